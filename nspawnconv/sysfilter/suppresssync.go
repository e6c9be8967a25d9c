package sysfilter

import specs "github.com/opencontainers/runtime-spec/specs-go"

// syncRules are nspawn's SuppressSync= rules (seccomp_suppress_sync()):
// sync calls on a valid fd and sync/msync succeed without syncing, opens with
// O_SYNC/O_DSYNC fail with EINVAL, openat2 (flags out of reach) with ENOSYS.
// Each takes the call's decision otherwise and returns rules covering every
// argument value, so no unconditional rule shadows a conditional one.
var syncRules = []struct {
	name  string
	rules func(fb specs.LinuxSyscall) []specs.LinuxSyscall
}{
	{"fdatasync", fdSync("fdatasync")}, {"fsync", fdSync("fsync")}, {"sync_file_range", fdSync("sync_file_range")},
	{"sync_file_range2", fdSync("sync_file_range2")}, {"syncfs", fdSync("syncfs")},
	{"msync", always("msync", 0)}, {"sync", always("sync", 0)}, {"openat2", always("openat2", errnoENOSYS)},
	{"open", syncOpen("open", 1)}, {"openat", syncOpen("openat", 2)},
}

const (
	intMax = 2147483647
	oDSync = 0x1000 // O_DSYNC; O_SYNC includes it
	einval = 22
)

func fdSync(name string) func(specs.LinuxSyscall) []specs.LinuxSyscall {
	return func(fb specs.LinuxSyscall) []specs.LinuxSyscall {
		return []specs.LinuxSyscall{
			withArgs(errnoRule(name, 0), specs.LinuxSeccompArg{Index: 0, Value: intMax, Op: specs.OpLessEqual}),
			withArgs(fb, specs.LinuxSeccompArg{Index: 0, Value: intMax, Op: specs.OpGreaterThan}),
		}
	}
}

func always(name string, errno uint) func(specs.LinuxSyscall) []specs.LinuxSyscall {
	return func(specs.LinuxSyscall) []specs.LinuxSyscall { return []specs.LinuxSyscall{errnoRule(name, errno)} }
}

func syncOpen(name string, flagsArg uint) func(specs.LinuxSyscall) []specs.LinuxSyscall {
	return func(fb specs.LinuxSyscall) []specs.LinuxSyscall {
		return []specs.LinuxSyscall{
			withArgs(errnoRule(name, einval), specs.LinuxSeccompArg{Index: flagsArg, Value: oDSync, ValueTwo: oDSync, Op: specs.OpMaskedEqual}),
			withArgs(fb, specs.LinuxSeccompArg{Index: flagsArg, Value: oDSync, ValueTwo: 0, Op: specs.OpMaskedEqual}),
		}
	}
}
