package e2e

import (
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestMemoryPolicy: the container's program runs with linux.memoryPolicy,
// as /proc/self/numa_maps shows for mappings without a policy of their own.
func TestMemoryPolicy(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/numa_maps"); err != nil {
		t.Skipf("kernel without NUMA support: %v", err)
	}
	for _, tc := range []struct {
		pol  specs.LinuxMemoryPolicy
		want string
	}{
		{specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0"}, " bind:0 "},
		{specs.LinuxMemoryPolicy{Mode: specs.MpolInterleave, Nodes: "0", Flags: []specs.MemoryPolicyFlagType{specs.MpolFStaticNodes}}, " interleave=static:0 "},
	} {
		t.Run(string(tc.pol.Mode), func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, func(s *specs.Spec) { s.Linux.MemoryPolicy = &tc.pol })
			wantContains(t, c.runOutput("head", "-1", "/proc/self/numa_maps"), tc.want)
		})
	}
}

// TestUnsupportedResources: what this machine cannot do fails create,
// before anything is made, with an error naming the field.
func TestUnsupportedResources(t *testing.T) {
	t.Parallel()
	l3 := "L3:0=f"
	for _, tc := range []struct {
		name string
		edit func(*specs.Spec)
		want []string
	}{
		{"memoryPolicy-missing-node", func(s *specs.Spec) {
			s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "5"}
		}, []string{"linux.memoryPolicy.nodes", "NUMA node 5 does not exist"}},
		{"intelRdt", func(s *specs.Spec) {
			s.Linux.IntelRdt = &specs.LinuxIntelRdt{L3CacheSchema: l3}
		}, []string{"linux.intelRdt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, tc.edit)
			r := c.create()
			if r.Code == 0 {
				t.Fatalf("create succeeded: %s", r)
			}
			wantContains(t, r.Stderr, tc.want...)
		})
	}
}
