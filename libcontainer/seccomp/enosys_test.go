package seccomp

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// runStub interprets the stub's few opcodes on (arch, nr); fellThrough
// reports that the program ran past its end, into the real filter.
func runStub(t *testing.T, prog []unix.SockFilter, arch, nr uint32) (result uint32, fellThrough bool) {
	t.Helper()
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case ldW:
			switch in.K {
			case offNr:
				acc = nr
			case offArch:
				acc = arch
			default:
				t.Fatalf("load of offset %d", in.K)
			}
		case jeq, jgt, jset:
			cond := (in.Code == jeq && acc == in.K) || (in.Code == jgt && acc > in.K) || (in.Code == jset && acc&in.K != 0)
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case ja:
			pc += int(in.K)
		case ret:
			return in.K, false
		default:
			t.Fatalf("unexpected opcode %#x at %d", in.Code, pc)
		}
	}
	return 0, true
}

func TestEnosysStub(t *testing.T) {
	const enosysRet = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	profile := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write", "openat2", "no_such_syscall"}, Action: specs.ActAllow},
			{Names: []string{"mkdir"}, Action: specs.ActErrno}, // the default's action: still "known"
		},
	}
	last := findLastSyscalls(profile)
	// openat2 is 437 on x86_64 and x32 (plus the x32 bit), 437 on i386.
	if last[unix.AUDIT_ARCH_X86_64][false] != 437 || last[unix.AUDIT_ARCH_X86_64][true] != x32SyscallBit|437 || last[unix.AUDIT_ARCH_I386][false] != 437 {
		t.Fatalf("last syscalls %v", last)
	}
	prog := enosysStub(last)
	tests := []struct {
		name   string
		arch   uint32
		nr     uint32
		enosys bool
	}{
		{"known number", unix.AUDIT_ARCH_X86_64, 0, false},
		{"the last known", unix.AUDIT_ARCH_X86_64, 437, false},
		{"newer", unix.AUDIT_ARCH_X86_64, 439, true},
		{"far newer", unix.AUDIT_ARCH_X86_64, 1000, true},
		{"x32 known", unix.AUDIT_ARCH_X86_64, x32SyscallBit | 1, false},
		{"x32 newer", unix.AUDIT_ARCH_X86_64, x32SyscallBit | 500, true},
		{"i386 newer", unix.AUDIT_ARCH_I386, 440, true},
		{"i386 known", unix.AUDIT_ARCH_I386, 5, false},
		{"an architecture the profile lacks", unix.AUDIT_ARCH_AARCH64, 1000, false},
	}
	for _, tc := range tests {
		r, fell := runStub(t, prog, tc.arch, tc.nr)
		if tc.enosys && (fell || r != enosysRet) {
			t.Errorf("%s: arch %#x nr %d: want ENOSYS, got ret %#x fallthrough %v", tc.name, tc.arch, tc.nr, r, fell)
		}
		if !tc.enosys && !fell {
			t.Errorf("%s: arch %#x nr %d: want the filter to decide, got ret %#x", tc.name, tc.arch, tc.nr, r)
		}
	}

	// x86_64 without x32: x32 numbers go to the filter, which refuses the
	// architecture by itself.
	noX32 := enosysStub(findLastSyscalls(&specs.LinuxSeccomp{Architectures: []specs.Arch{specs.ArchX86_64}, Syscalls: profile.Syscalls}))
	if _, fell := runStub(t, noX32, unix.AUDIT_ARCH_X86_64, x32SyscallBit|1000); !fell {
		t.Error("x32 number without x32 in the profile: want the filter to decide")
	}
	if r, _ := runStub(t, noX32, unix.AUDIT_ARCH_X86_64, 1000); r != enosysRet {
		t.Errorf("x86_64 1000 without x32 in the profile: got %#x", r)
	}
}

func TestWantsEnosysStub(t *testing.T) {
	eperm, enosys := uint(unix.EPERM), uint(unix.ENOSYS)
	tests := []struct {
		act  specs.LinuxSeccompAction
		ret  *uint
		want bool
	}{
		{specs.ActErrno, nil, true},
		{specs.ActErrno, &eperm, true},
		{specs.ActErrno, &enosys, false},
		{specs.ActKillProcess, nil, true},
		{specs.ActTrap, nil, true},
		{specs.ActAllow, nil, false},
		{specs.ActLog, nil, false},
	}
	for _, tc := range tests {
		if got := wantsEnosysStub(&specs.LinuxSeccomp{DefaultAction: tc.act, DefaultErrnoRet: tc.ret}); got != tc.want {
			t.Errorf("%s (errnoRet %v): %v, want %v", tc.act, tc.ret, got, tc.want)
		}
	}
	if stub := enosysStub(findLastSyscalls(&specs.LinuxSeccomp{Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}}}})); stub != nil {
		t.Errorf("no architectures: want no stub, as runc, got %d instructions", len(stub))
	}
}
