package process_test

import (
	"runtime"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/process"
)

func TestParseNodeList(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		err  bool
	}{
		{"", nil, false},
		{"0", []int{0}, false},
		{"0-2,5", []int{0, 1, 2, 5}, false},
		{"3-1", nil, true},
		{"x", nil, true},
		{"-1", nil, true},
		{"1,", nil, true},
		{"4096", nil, true},
	}
	for _, tc := range tests {
		got, err := process.ParseNodeList(tc.in)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("ParseNodeList(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestValidateMemoryPolicy(t *testing.T) {
	pol := func(mode specs.MemoryPolicyModeType, nodes string, flags ...specs.MemoryPolicyFlagType) *specs.LinuxMemoryPolicy {
		return &specs.LinuxMemoryPolicy{Mode: mode, Nodes: nodes, Flags: flags}
	}
	tests := []struct {
		name string
		p    *specs.LinuxMemoryPolicy
		want string // "" = valid
	}{
		{"nil", nil, ""},
		{"bind-0", pol(specs.MpolBind, "0"), ""},
		{"interleave-0", pol(specs.MpolInterleave, "0", specs.MpolFStaticNodes), ""},
		{"preferred-local", pol(specs.MpolPreferred, ""), ""},
		{"default", pol(specs.MpolDefault, ""), ""},
		{"relative-beyond", pol(specs.MpolBind, "5", specs.MpolFRelativeNodes), ""},
		{"unknown-mode", pol("MPOL_FAST", "0"), "linux.memoryPolicy.mode"},
		{"unknown-flag", pol(specs.MpolBind, "0", "MPOL_F_X"), "linux.memoryPolicy.flags[0]"},
		{"missing-node", pol(specs.MpolBind, "5"), "NUMA node 5 does not exist"},
		{"bind-no-nodes", pol(specs.MpolBind, ""), "needs at least one node"},
		{"local-with-nodes", pol(specs.MpolLocal, "0"), "takes neither nodes nor flags"},
		{"static-and-relative", pol(specs.MpolBind, "0", specs.MpolFStaticNodes, specs.MpolFRelativeNodes), "exclude each other"},
		{"bad-nodes", pol(specs.MpolBind, "a-b"), "linux.memoryPolicy.nodes"},
	}
	for _, tc := range tests {
		err := process.ValidateMemoryPolicy(tc.p)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// TestSetMemoryPolicy applies a policy on a thread of its own (thrown away
// afterwards) and reads it back with get_mempolicy(2).
func TestSetMemoryPolicy(t *testing.T) {
	tests := []struct {
		p        *specs.LinuxMemoryPolicy
		mode     int
		nodeMask uint64
	}{
		{&specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0"}, 2, 1},
		{&specs.LinuxMemoryPolicy{Mode: specs.MpolInterleave, Nodes: "0"}, 3, 1},
		{&specs.LinuxMemoryPolicy{Mode: specs.MpolPreferred, Nodes: "0"}, 1, 1},
		{&specs.LinuxMemoryPolicy{Mode: specs.MpolLocal}, 4, 0},
	}
	for _, tc := range tests {
		done := make(chan error, 1)
		var mode int
		mask := make([]uint64, 16)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
			if err := process.SetMemoryPolicy(tc.p); err != nil {
				done <- err
				return
			}
			_, _, errno := unix.Syscall6(unix.SYS_GET_MEMPOLICY, uintptr(unsafe.Pointer(&mode)),
				uintptr(unsafe.Pointer(&mask[0])), uintptr(len(mask)*64), 0, 0, 0)
			if errno != 0 {
				done <- errno
				return
			}
			done <- nil
		}()
		if err := <-done; err != nil {
			t.Errorf("%s %q: %v", tc.p.Mode, tc.p.Nodes, err)
			continue
		}
		if mode != tc.mode || mask[0] != tc.nodeMask {
			t.Errorf("%s %q: get_mempolicy says mode %d mask %#x, want %d %#x", tc.p.Mode, tc.p.Nodes, mode, mask[0], tc.mode, tc.nodeMask)
		}
	}
}
