package seccomp

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

func uptr(v uint) *uint { return &v }

func loadDefaultProfile(t testing.TB) *specs.LinuxSeccomp {
	t.Helper()
	b, err := os.ReadFile("testdata/default.json")
	if err != nil {
		t.Fatal(err)
	}
	var c specs.LinuxSeccomp
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("testdata/default.json: %v", err)
	}
	return &c
}

func TestValidate(t *testing.T) {
	allow := specs.LinuxSyscall{Names: []string{"getppid"}, Action: specs.ActAllow}
	with := func(mod func(c *specs.LinuxSeccomp)) *specs.LinuxSeccomp {
		c := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{allow, allow, allow, allow}}
		mod(c)
		return c
	}
	tests := []struct {
		name string
		c    *specs.LinuxSeccomp
		want string // substring of the error; "" = valid
	}{
		{"nil", nil, ""},
		{"minimal", with(func(*specs.LinuxSeccomp) {}), ""},
		{"unknown syscall name allowed", with(func(c *specs.LinuxSeccomp) { c.Syscalls[0].Names = []string{"no_such_syscall"} }), ""},
		{"all flags", with(func(c *specs.LinuxSeccomp) {
			c.Flags = []specs.LinuxSeccompFlag{flagTSYNC, specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, specs.LinuxSeccompFlagWaitKillableRecv}
		}), ""},
		{"errno and trace rets", with(func(c *specs.LinuxSeccomp) {
			c.DefaultErrnoRet = uptr(38)
			c.Syscalls[1] = specs.LinuxSyscall{Names: []string{"ptrace"}, Action: specs.ActTrace, ErrnoRet: uptr(0xffff)}
		}), ""},
		{"missing default", with(func(c *specs.LinuxSeccomp) { c.DefaultAction = "" }), "linux.seccomp.defaultAction: required"},
		{"unknown default", with(func(c *specs.LinuxSeccomp) { c.DefaultAction = "SCMP_ACT_NOPE" }), `linux.seccomp.defaultAction: unknown action "SCMP_ACT_NOPE"`},
		{"notify default", with(func(c *specs.LinuxSeccomp) { c.DefaultAction = specs.ActNotify }), `cannot be the default action`},
		{"default errno on allow", with(func(c *specs.LinuxSeccomp) { c.DefaultAction = specs.ActAllow; c.DefaultErrnoRet = uptr(1) }), `linux.seccomp.defaultErrnoRet: set for action "SCMP_ACT_ALLOW"`},
		{"unknown action", with(func(c *specs.LinuxSeccomp) { c.Syscalls[3].Action = "SCMP_ACT_FOO" }), `linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"`},
		{"missing action", with(func(c *specs.LinuxSeccomp) { c.Syscalls[1].Action = "" }), `linux.seccomp.syscalls[1].action: required`},
		{"errnoRet on kill", with(func(c *specs.LinuxSeccomp) { c.Syscalls[2].Action = specs.ActKill; c.Syscalls[2].ErrnoRet = uptr(1) }), `linux.seccomp.syscalls[2].errnoRet: set for action "SCMP_ACT_KILL"`},
		{"errno too big", with(func(c *specs.LinuxSeccomp) {
			c.Syscalls[0].Action = specs.ActErrno
			c.Syscalls[0].ErrnoRet = uptr(5000)
		}), `linux.seccomp.syscalls[0].errnoRet: 5000 out of range`},
		{"unknown arch", with(func(c *specs.LinuxSeccomp) { c.Architectures = []specs.Arch{specs.ArchX86_64, "SCMP_ARCH_Z80"} }), `linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_Z80"`},
		{"unknown flag", with(func(c *specs.LinuxSeccomp) { c.Flags = []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NEW_LISTENER"} }), `linux.seccomp.flags[0]: unknown flag "SECCOMP_FILTER_FLAG_NEW_LISTENER"`},
		{"unknown op", with(func(c *specs.LinuxSeccomp) {
			c.Syscalls[1].Args = []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_LIKE"}}
		}), `linux.seccomp.syscalls[1].args[0].op: unknown operator "SCMP_CMP_LIKE"`},
		{"arg index", with(func(c *specs.LinuxSeccomp) {
			c.Syscalls[1].Args = []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}
		}), `linux.seccomp.syscalls[1].args[0].index: 6 out of range`},
		{"no names", with(func(c *specs.LinuxSeccomp) { c.Syscalls[2].Names = nil }), `linux.seccomp.syscalls[2].names: must contain at least one entry`},
		{"empty name", with(func(c *specs.LinuxSeccomp) { c.Syscalls[2].Names = []string{"read", ""} }), `linux.seccomp.syscalls[2].names[1]: empty syscall name`},
		{"metadata without path", with(func(c *specs.LinuxSeccomp) { c.ListenerMetadata = "x" }), `linux.seccomp.listenerMetadata: set without listenerPath`},
		{"notify without path", with(func(c *specs.LinuxSeccomp) { c.Syscalls[0].Action = specs.ActNotify }), `linux.seccomp.listenerPath is not set`},
		{"notify on write", with(func(c *specs.LinuxSeccomp) {
			c.ListenerPath = "/run/agent.sock"
			c.Syscalls[1].Action = specs.ActNotify
			c.Syscalls[1].Names = []string{"read", "write"}
		}), `linux.seccomp.syscalls[1]: SCMP_ACT_NOTIFY cannot be used for the write syscall`},
		{"notify on writev", with(func(c *specs.LinuxSeccomp) {
			c.ListenerPath = "/run/agent.sock"
			c.Syscalls[1].Action = specs.ActNotify
			c.Syscalls[1].Names = []string{"writev"}
		}), ``},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.c)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: unexpected error %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("Validate: no error, want %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("Validate: error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestValidateReportsAllErrors(t *testing.T) {
	c := &specs.LinuxSeccomp{DefaultAction: "X", Architectures: []specs.Arch{"Y"}, Flags: []specs.LinuxSeccompFlag{"Z"}}
	err := Validate(c)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`"X"`, `"Y"`, `"Z"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %s", err, want)
		}
	}
}

func TestCompileDefaultProfile(t *testing.T) {
	f, err := Compile(loadDefaultProfile(t))
	if err != nil {
		t.Fatal(err)
	}
	if f.Notify() {
		t.Error("Notify() = true for a profile without NOTIFY rules")
	}
	if f.flags != unix.SECCOMP_FILTER_FLAG_TSYNC {
		t.Errorf("flags = %#x, want TSYNC only", f.flags)
	}
	t.Logf("default profile: %d BPF instructions", f.Instructions())
	if f.Instructions() < 100 {
		t.Errorf("only %d instructions for ~380 rules on 3 architectures", f.Instructions())
	}
	b, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var g Filter
	if err := g.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f, &g) {
		t.Error("marshal round trip changed the filter")
	}
	for _, bad := range [][]byte{nil, b[:10], b[:len(b)-3], append([]byte("xxxx"), b[4:]...)} {
		if err := new(Filter).UnmarshalBinary(bad); err == nil {
			t.Errorf("UnmarshalBinary accepted %d corrupt bytes", len(bad))
		}
	}
	f.Release()
	if _, err := f.Load(); err == nil {
		t.Error("Load after Release succeeded")
	}
}

// A rule equal to the default action and a name libseccomp does not know
// must both vanish without error, leaving the same program as no rules.
func TestCompileSkipsRedundantAndUnknown(t *testing.T) {
	base := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uptr(uint(unix.EPERM))}
	empty, err := Compile(base)
	if err != nil {
		t.Fatal(err)
	}
	c := *base
	c.Syscalls = []specs.LinuxSyscall{
		{Names: []string{"getppid"}, Action: specs.ActErrno}, // EPERM == default
		{Names: []string{"no_such_syscall_hull"}, Action: specs.ActAllow},
		{Names: []string{"no_such_syscall_hull"}, Action: specs.ActNotify},
	}
	c.ListenerPath = "/nonexistent"
	c.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}
	f, err := Compile(&c)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.prog, empty.prog) {
		t.Errorf("program differs from the rule-less one (%d vs %d instructions)", f.Instructions(), empty.Instructions())
	}
	if f.Notify() || f.flags != unix.SECCOMP_FILTER_FLAG_TSYNC {
		t.Errorf("notify=%v flags=%#x: a NOTIFY rule with no known syscall must not ask for a listener", f.Notify(), f.flags)
	}
}

func TestLoadFlags(t *testing.T) {
	all := []specs.LinuxSeccompFlag{flagTSYNC, specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, specs.LinuxSeccompFlagWaitKillableRecv}
	tests := []struct {
		flags  []specs.LinuxSeccompFlag
		notify bool
		want   uint
	}{
		{nil, false, unix.SECCOMP_FILTER_FLAG_TSYNC},
		{all, false, unix.SECCOMP_FILTER_FLAG_TSYNC | unix.SECCOMP_FILTER_FLAG_LOG | unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW},
		{nil, true, unix.SECCOMP_FILTER_FLAG_TSYNC | unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH},
		{all, true, unix.SECCOMP_FILTER_FLAG_TSYNC | unix.SECCOMP_FILTER_FLAG_LOG | unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW |
			unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV | unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH},
	}
	for _, tc := range tests {
		if got := loadFlags(tc.flags, tc.notify); got != tc.want {
			t.Errorf("loadFlags(%v, %v) = %#x, want %#x", tc.flags, tc.notify, got, tc.want)
		}
	}
}

func TestCompileArchitectureSupport(t *testing.T) {
	maj, min, _ := libseccomp.GetLibraryVersion()
	if maj > 2 || min >= 6 {
		t.Skipf("libseccomp %d.%d knows every spec architecture", maj, min)
	}
	c := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchAARCH64, specs.ArchLOONGARCH64}}
	_, err := Compile(c)
	if err == nil || !strings.Contains(err.Error(), `linux.seccomp.architectures[2] "SCMP_ARCH_LOONGARCH64"`) {
		t.Fatalf("Compile = %v, want an error naming architectures[2]", err)
	}
	c.Architectures = c.Architectures[:2]
	if _, err := Compile(c); err != nil {
		t.Fatalf("Compile with x86_64+aarch64: %v", err)
	}
}

func TestCompileConditionSplit(t *testing.T) {
	args := []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 1, Value: 2, Op: specs.OpGreaterThan}}
	sets, err := conditionSets(0, args)
	if err != nil || len(sets) != 1 || len(sets[0]) != 2 {
		t.Fatalf("distinct indexes: %d sets, err %v; want one AND-ed rule", len(sets), err)
	}
	args = append(args, specs.LinuxSeccompArg{Index: 0, Value: 0xf0, ValueTwo: 0x10, Op: specs.OpMaskedEqual})
	sets, err = conditionSets(0, args)
	if err != nil || len(sets) != 3 {
		t.Fatalf("repeated index: %d sets, err %v; want 3 single-condition rules", len(sets), err)
	}
	if m := sets[2][0]; m.Op != libseccomp.CompareMaskedEqual || m.Operand1 != 0xf0 || m.Operand2 != 0x10 {
		t.Errorf("masked condition = %+v, want mask 0xf0 datum 0x10", m)
	}
}
