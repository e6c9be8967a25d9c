package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// runDeviceProgram interprets the instructions deviceProgram emits, so the
// rule semantics are checked on any host; TestDeviceProgramLoads has the
// kernel's verifier accept the same programs.
func runDeviceProgram(t *testing.T, prog []bpfInsn, typ, acc, major, minor uint32) uint64 {
	t.Helper()
	ctx := []uint32{acc<<16 | typ, major, minor}
	var r [11]uint64
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		dst, src := in.regs&0xf, in.regs>>4
		switch in.code {
		case unix.BPF_LDX | unix.BPF_W | unix.BPF_MEM:
			r[dst] = uint64(ctx[in.off/4])
		case unix.BPF_ALU | unix.BPF_MOV | unix.BPF_X:
			r[dst] = uint64(uint32(r[src]))
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			r[dst] = uint64(uint32(r[dst]) & uint32(in.imm))
		case unix.BPF_ALU | unix.BPF_RSH | unix.BPF_K:
			r[dst] = uint64(uint32(r[dst]) >> uint32(in.imm))
		case unix.BPF_ALU64 | unix.BPF_MOV | unix.BPF_K:
			r[dst] = uint64(int64(in.imm))
		case unix.BPF_JMP | unix.BPF_JNE | unix.BPF_K:
			if r[dst] != uint64(int64(in.imm)) {
				pc += int(in.off)
			}
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			if r[dst] == uint64(int64(in.imm)) {
				pc += int(in.off)
			}
		case unix.BPF_JMP | unix.BPF_EXIT:
			return r[0]
		default:
			t.Fatalf("pc %d: unexpected opcode %#x", pc, in.code)
		}
	}
	t.Fatal("program ran off its end")
	return 0
}

func devRule(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	d := specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Access: access}
	if major >= 0 {
		d.Major = &major
	}
	if minor >= 0 {
		d.Minor = &minor
	}
	return d
}

// deviceRuleSets are typical specs: deny-all then allows (what hull
// generates), partial access, an override of an earlier rule, allows with
// no deny-all before them, and none.
var deviceRuleSets = map[string][]specs.LinuxDeviceCgroup{
	"container": {
		devRule(false, "a", -1, -1, "rwm"),
		devRule(true, "c", 1, 3, "rwm"),   // /dev/null
		devRule(true, "c", 1, 5, "rw"),    // /dev/zero
		devRule(true, "c", 136, -1, "rw"), // ptys
		devRule(true, "b", 8, 0, "r"),
	},
	"deny-one": {devRule(false, "c", 1, 3, "w")},
	// No deny-all rule: what no rule allows is still denied, as in runc.
	"allows-only": {devRule(true, "c", 1, 3, "rwm")},
	"none":        {},
	"override": {
		devRule(false, "", -1, -1, ""),
		devRule(true, "c", 1, 3, "rwm"),
		devRule(false, "c", 1, 3, "w"),
	},
	"allow-all-last": {devRule(false, "a", -1, -1, "rwm"), devRule(true, "a", -1, -1, "rwm")},
}

func TestDeviceProgramSemantics(t *testing.T) {
	const r, w, m = accRead, accWrite, accMknod
	tests := []struct {
		set                    string
		typ, acc, major, minor uint32
		want                   uint64
	}{
		{"container", devChar, r, 1, 3, 1},
		{"container", devChar, r | w, 1, 3, 1},
		{"container", devChar, m, 1, 3, 1},
		{"container", devChar, r, 1, 5, 1},
		{"container", devChar, m, 1, 5, 0},
		{"container", devChar, r, 1, 7, 0},
		{"container", devBlock, r, 1, 3, 0},
		{"container", devChar, w, 136, 42, 1},
		{"container", devBlock, r, 8, 0, 1},
		{"container", devBlock, w, 8, 0, 0},
		{"container", devBlock, r, 8, 1, 0},
		{"deny-one", devChar, w, 1, 3, 0},
		{"deny-one", devChar, r | w, 1, 3, 0},
		{"deny-one", devChar, r, 1, 3, 0},
		{"deny-one", devBlock, w, 8, 0, 0},
		{"allows-only", devChar, r | w, 1, 3, 1},
		{"allows-only", devChar, r | w, 1, 11, 0},
		{"allows-only", devChar, m, 4, 2, 0},
		{"none", devChar, r, 1, 3, 0},
		{"override", devChar, r, 1, 3, 1},
		{"override", devChar, w, 1, 3, 0},
		{"override", devChar, r, 1, 4, 0},
		{"allow-all-last", devBlock, r | w | m, 9, 9, 1},
	}
	for _, tc := range tests {
		prog, err := deviceProgram(deviceRuleSets[tc.set])
		if err != nil {
			t.Fatal(err)
		}
		got := runDeviceProgram(t, prog, tc.typ, tc.acc, tc.major, tc.minor)
		if got != tc.want {
			t.Errorf("%s: type %d access %d %d:%d = %d, want %d", tc.set, tc.typ, tc.acc, tc.major, tc.minor, got, tc.want)
		}
	}
}

func TestDeviceProgramRejects(t *testing.T) {
	neg := int64(-5)
	for i, d := range []specs.LinuxDeviceCgroup{{Type: "x"}, {Access: "rwq"}, {Allow: true, Type: "c", Major: &neg}} {
		if _, err := deviceProgram([]specs.LinuxDeviceCgroup{d}); err == nil {
			t.Errorf("rule %d (%+v): no error", i, d)
		}
	}
}

func TestDeviceProgramLoads(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading BPF programs needs root")
	}
	for name, rules := range deviceRuleSets {
		t.Run(name, func(t *testing.T) {
			prog, err := deviceProgram(rules)
			if err != nil {
				t.Fatal(err)
			}
			fd, err := loadDeviceProgram(prog)
			if errors.Is(err, unix.EPERM) {
				t.Skipf("BPF_PROG_LOAD not permitted here: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			unix.Close(fd)
		})
	}
}

// TestReplaceDeviceProgram: an update swaps the cgroup's one device
// program for the new one in a single BPF_PROG_ATTACH (BPF_F_REPLACE).
// Device programs attach to any cgroup2 directory, so this also runs on a
// hybrid host's unified hierarchy.
func TestReplaceDeviceProgram(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups and load BPF programs")
	}
	var root string
	for _, p := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		if ok, err := isUnified(p); err == nil && ok {
			root = p
			break
		}
	}
	if root == "" {
		t.Skip("no cgroup2 mount")
	}
	dir := filepath.Join(root, strings.TrimPrefix(testPath(t), "/"))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Remove(dir); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	ids := func() []uint32 {
		fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		got, err := attachedDevicePrograms(fd)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	rules := []specs.LinuxDeviceCgroup{devRule(false, "a", -1, -1, "rwm"), devRule(true, "c", 1, 3, "rwm")}
	if err := setDevicesV2(dir, rules); err != nil {
		t.Fatal(err)
	}
	first := ids()
	if len(first) != 1 {
		t.Fatalf("programs after the first set: %v", first)
	}
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	prog, err := deviceProgram(append(rules, devRule(true, "c", 1, 5, "rwm")))
	if err != nil {
		t.Fatal(err)
	}
	progFd, err := loadDeviceProgram(prog)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(progFd)
	if err := replaceProgram(fd, progFd, first[0]); err != nil {
		t.Fatalf("replace: %v", err)
	}
	if now := ids(); len(now) != 1 || now[0] == first[0] {
		t.Errorf("programs after replace: %v (before %v), want one new", now, first)
	}
	if err := setDevicesV2(dir, rules); err != nil {
		t.Fatal(err)
	}
	if now := ids(); len(now) != 1 {
		t.Errorf("programs after a second set: %v, want one", now)
	}
}
