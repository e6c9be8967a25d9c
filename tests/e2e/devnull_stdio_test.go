package e2e

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestStdioDevNullIsTheContainers: a container started with the host's
// /dev/null as stdin (the harness gives every run one, as conmon does for
// a container without stdin) holds the container's own /dev/null instead
// (runc has reOpenDevNull for this): fd 0 is on the mount of the
// container's /dev. criu refuses to checkpoint a file of a host mount.
// Debian's runc 1.1.5 leaves the host's here, so it is only logged.
func TestStdioDevNullIsTheContainers(t *testing.T) {
	t.Parallel()
	probe := `sed -n 's/^mnt_id:[[:space:]]*//p' /proc/self/fdinfo/0; awk '$5 == "/dev" { print $1 }' /proc/self/mountinfo`
	eachInitVariant(t, func(s *specs.Spec) { s.Process.Args = []string{"sh", "-c", probe} }, func(t *testing.T, rt string, c *container) {
		r := c.run()
		if r.Code != 0 {
			t.Fatalf("%s", r)
		}
		ids := strings.Fields(r.Stdout)
		if rt == "runc" {
			t.Logf("runc: stdin's mount id and the container's /dev mount id: %q", ids)
			return
		}
		if len(ids) != 2 || ids[0] != ids[1] {
			t.Errorf("%s: stdin's mount id and the container's /dev mount id: %q, want the same", rt, ids)
		}
	})
}
