package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestDevicesDeniedByDefault: a config whose device rules do not start
// with a deny-all rule (none at all, or only allows) still gets only the
// default devices and what it allows, as under runc (the control): a new
// v1 cgroup inherits allow-all, and hull once left it so, giving the
// container every host device it could mknod.
func TestDevicesDeniedByDefault(t *testing.T) {
	t.Parallel()
	int64Ptr := func(v int64) *int64 { return &v }
	if _, err := os.Stat("/sys/fs/cgroup/devices"); err != nil {
		t.Skip("this test reads cgroup v1 files; /sys/fs/cgroup/devices is missing; the guest checks v2's program")
	}
	for name, rules := range map[string][]specs.LinuxDeviceCgroup{
		"no-rules":    nil,
		"allows-only": {{Allow: true, Type: "c", Major: int64Ptr(1), Minor: int64Ptr(7), Access: "rwm"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, c := range withControls(t, func(s *specs.Spec) {
				s.Process.Args = []string{"sleep", "1000"}
				s.Linux.Resources = &specs.LinuxResources{Devices: rules}
				s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/kmsg", Type: "c", Major: 1, Minor: 11},
					{Path: "/dev/loop7", Type: "b", Major: 7, Minor: 7}}
			}) {
				rt := c.runtimeName()
				c.mustCreate()
				c.mustHull("start", c.ID)
				list := readTrim(t, filepath.Join("/sys/fs/cgroup/devices", c.Cgroup, "devices.list"))
				if strings.Contains(list, "a *:* rwm") || strings.Contains(list, "1:11") {
					t.Errorf("%s: devices.list allows more than the defaults:\n%s", rt, list)
				}
				r := c.mustHull(append([]string{"exec", c.ID}, sh(
					"test -c /dev/kmsg && test -b /dev/loop7 && echo nodes-made; "+
						"echo x >/dev/null && echo null-ok; head -c 3 /dev/full | wc -c; "+
						"(: </dev/kmsg) 2>/dev/null && echo kmsg-open || echo kmsg-denied; "+
						"(: </dev/loop7) 2>/dev/null && echo loop-open || echo loop-denied")...)...)
				if got := strings.Join(strings.Fields(r.Stdout), " "); got != "nodes-made null-ok 3 kmsg-denied loop-denied" {
					t.Errorf("%s: devices in the container: %q", rt, got)
				}
			}
		})
	}
}
