package e2e

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestNoPivotHidesHostProc: under --no-pivot the host's root stays in the
// container's mount namespace, below the chroot. A user namespace made in
// the container may mount a fresh proc or sysfs only if a fully visible one
// exists in its mount namespace, so runc detaches the host's proc and sysfs
// before moving the root; without that, the container gets an unmasked
// /proc. CAP_SETFCAP lets the container map its root in the new namespace.
func TestNoPivotHidesHostProc(t *testing.T) {
	t.Parallel()
	script := `unshare -Urmpfn sh -c '
mount -t proc proc /dev/shm 2>/dev/null && echo proc-mounted && umount /dev/shm
mount -t sysfs sysfs /dev/shm 2>/dev/null && echo sysfs-mounted && umount /dev/shm
echo done'`
	edit := func(s *specs.Spec) {
		s.Process.Args = sh(script)
		caps := s.Process.Capabilities
		caps.Bounding = append(caps.Bounding, "CAP_SETFCAP")
		caps.Effective = append(caps.Effective, "CAP_SETFCAP")
		caps.Permitted = append(caps.Permitted, "CAP_SETFCAP")
	}
	eachRuntime(t, edit, func(t *testing.T, c *container) {
		for _, flags := range [][]string{nil, {"--no-pivot"}} {
			r := c.run(flags...)
			if r.Code != 0 || !strings.Contains(r.Stdout, "done") {
				t.Fatalf("%s", r)
			}
			if strings.Contains(r.Stdout, "mounted") {
				t.Errorf("run %v: a user namespace in the container mounted an unmasked filesystem:\n%s", flags, r.Stdout)
			}
		}
	})
}
