package seccomp

import (
	"errors"
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// maxErrno is the kernel's MAX_ERRNO: SECCOMP_RET_ERRNO data above it is
// silently clamped, so a larger errnoRet would not mean what the spec says.
const maxErrno = 4095

// maxTraceMsg is the width of SECCOMP_RET_DATA handed to the tracer.
const maxTraceMsg = 0xffff

// flagTSYNC is listed by runtime-spec but has no specs-go constant.
const flagTSYNC specs.LinuxSeccompFlag = "SECCOMP_FILTER_FLAG_TSYNC"

// knownArchs maps the spec's architecture names to libseccomp's own
// spelling (what GetArchFromString accepts).
var knownArchs = map[specs.Arch]string{
	specs.ArchX86: "x86", specs.ArchX86_64: "amd64", specs.ArchX32: "x32",
	specs.ArchARM: "arm", specs.ArchAARCH64: "arm64",
	specs.ArchMIPS: "mips", specs.ArchMIPS64: "mips64", specs.ArchMIPS64N32: "mips64n32",
	specs.ArchMIPSEL: "mipsel", specs.ArchMIPSEL64: "mipsel64", specs.ArchMIPSEL64N32: "mipsel64n32",
	specs.ArchPPC: "ppc", specs.ArchPPC64: "ppc64", specs.ArchPPC64LE: "ppc64le",
	specs.ArchS390: "s390", specs.ArchS390X: "s390x",
	specs.ArchPARISC: "parisc", specs.ArchPARISC64: "parisc64",
	specs.ArchRISCV64: "riscv64", specs.ArchLOONGARCH64: "loong64",
	specs.ArchM68K: "m68k", specs.ArchSH: "sh", specs.ArchSHEB: "sheb",
}

// knownFlags maps the spec's flag names to seccomp(2) flag bits.
var knownFlags = map[specs.LinuxSeccompFlag]uint{
	flagTSYNC:                              unix.SECCOMP_FILTER_FLAG_TSYNC,
	specs.LinuxSeccompFlagLog:              unix.SECCOMP_FILTER_FLAG_LOG,
	specs.LinuxSeccompFlagSpecAllow:        unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
	specs.LinuxSeccompFlagWaitKillableRecv: unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
}

var knownActions = map[specs.LinuxSeccompAction]bool{
	specs.ActKill: true, specs.ActKillProcess: true, specs.ActKillThread: true,
	specs.ActTrap: true, specs.ActErrno: true, specs.ActTrace: true,
	specs.ActAllow: true, specs.ActLog: true, specs.ActNotify: true,
}

var knownOps = map[specs.LinuxSeccompOperator]bool{
	specs.OpNotEqual: true, specs.OpLessThan: true, specs.OpLessEqual: true,
	specs.OpEqualTo: true, specs.OpGreaterEqual: true, specs.OpGreaterThan: true,
	specs.OpMaskedEqual: true,
}

// Validate checks the linux.seccomp section of a spec without touching
// libseccomp or the kernel. Syscall names are not checked: like runc, an
// unknown name is skipped at compile time so one profile serves kernels and
// architectures that lack some syscalls. A nil section is valid.
func Validate(c *specs.LinuxSeccomp) error {
	if c == nil {
		return nil
	}
	var errs []error
	if c.DefaultAction == "" {
		errs = append(errs, errors.New("linux.seccomp.defaultAction: required"))
	} else if err := checkAction("linux.seccomp.defaultAction", c.DefaultAction, c.DefaultErrnoRet, "linux.seccomp.defaultErrnoRet"); err != nil {
		errs = append(errs, err)
	} else if c.DefaultAction == specs.ActNotify {
		errs = append(errs, errors.New(`linux.seccomp.defaultAction: "SCMP_ACT_NOTIFY" cannot be the default action`))
	}
	for i, a := range c.Architectures {
		if _, ok := knownArchs[a]; !ok {
			errs = append(errs, fmt.Errorf("linux.seccomp.architectures[%d]: unknown architecture %q", i, a))
		}
	}
	for i, f := range c.Flags {
		if _, ok := knownFlags[f]; !ok {
			errs = append(errs, fmt.Errorf("linux.seccomp.flags[%d]: unknown flag %q", i, f))
		}
	}
	if c.ListenerMetadata != "" && c.ListenerPath == "" {
		errs = append(errs, errors.New("linux.seccomp.listenerMetadata: set without listenerPath"))
	}
	notify := false
	for i := range c.Syscalls {
		errs = append(errs, checkSyscall(i, &c.Syscalls[i])...)
		notify = notify || c.Syscalls[i].Action == specs.ActNotify
	}
	if notify && c.ListenerPath == "" {
		// Without an agent the notifying syscalls would block forever (or
		// fail with ENOSYS once the listener fd is closed).
		errs = append(errs, errors.New("linux.seccomp.listenerPath is not set, and a rule uses SCMP_ACT_NOTIFY"))
	}
	return errors.Join(errs...)
}

func checkSyscall(i int, s *specs.LinuxSyscall) []error {
	p := fmt.Sprintf("linux.seccomp.syscalls[%d]", i)
	var errs []error
	if len(s.Names) == 0 {
		errs = append(errs, fmt.Errorf("%s.names: must contain at least one entry", p))
	}
	for j, n := range s.Names {
		if n == "" {
			errs = append(errs, fmt.Errorf("%s.names[%d]: empty syscall name", p, j))
		}
	}
	if s.Action == "" {
		errs = append(errs, fmt.Errorf("%s.action: required", p))
	} else if err := checkAction(p+".action", s.Action, s.ErrnoRet, p+".errnoRet"); err != nil {
		errs = append(errs, err)
	}
	if s.Action == specs.ActNotify && slices.Contains(s.Names, "write") {
		// As runc: the init reports to its parent with write(2) once the
		// filter is loaded, which would then wait on the agent.
		errs = append(errs, fmt.Errorf("%s: SCMP_ACT_NOTIFY cannot be used for the write syscall", p))
	}
	for j, a := range s.Args {
		ap := fmt.Sprintf("%s.args[%d]", p, j)
		if a.Index > 5 {
			errs = append(errs, fmt.Errorf("%s.index: %d out of range (syscalls have 6 arguments, 0-5)", ap, a.Index))
		}
		if !knownOps[a.Op] {
			errs = append(errs, fmt.Errorf("%s.op: unknown operator %q", ap, a.Op))
		}
	}
	return errs
}

// checkAction validates an action name and its optional errno; the spec
// requires failing when an errno is given to an action that cannot carry one.
func checkAction(field string, a specs.LinuxSeccompAction, ret *uint, retField string) error {
	if !knownActions[a] {
		return fmt.Errorf("%s: unknown action %q", field, a)
	}
	if ret == nil {
		return nil
	}
	switch a {
	case specs.ActErrno:
		if *ret > maxErrno {
			return fmt.Errorf("%s: %d out of range for %s (max %d)", retField, *ret, a, maxErrno)
		}
	case specs.ActTrace:
		if *ret > maxTraceMsg {
			return fmt.Errorf("%s: %d out of range for %s (max %d)", retField, *ret, a, maxTraceMsg)
		}
	default:
		return fmt.Errorf("%s: set for action %q, which takes no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)", retField, a)
	}
	return nil
}
