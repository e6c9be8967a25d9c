package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestBindPropagationBidirectional is Kubernetes' Bidirectional volume
// (critest's "mount with 'rshared' should support propagation from host
// to container and vice versa"): a host directory on a shared mount, bound
// rshared into a container whose rootfsPropagation is rshared. A mount the
// container makes under it must appear on the host, and one the host makes
// must appear in the container.
func TestBindPropagationBidirectional(t *testing.T) {
	t.Parallel()
	vol := sharedTmpfs(t)
	c := newContainer(t, func(s *specs.Spec) {
		s.Linux.RootfsPropagation = "rshared"
		s.Mounts = append(s.Mounts, specs.Mount{
			Destination: "/vol", Type: "bind", Source: vol, Options: []string{"rbind", "rshared", "rw"},
		})
		caps := append(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN")
		s.Process.Capabilities.Bounding, s.Process.Capabilities.Effective = caps, caps
		s.Process.Capabilities.Permitted = caps
		// Mount from the container, then wait (10s at most) for the host's.
		s.Process.Args = sh(`mkdir /vol/in && mount -t tmpfs from-container /vol/in && echo x > /vol/in/made-in-container || exit 1
			for i in $(seq 100); do [ -e /vol/out/made-on-host ] && { echo saw-host-mount; exit 0; }; sleep 0.1; done
			exit 2`)
	})
	c.privateRootfs() // the mountpoint /vol is made in it
	p := c.startHull(nil, "run", "--bundle", c.Bundle, c.ID)
	hostSaw := waitUntil(10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(vol, "in", "made-in-container"))
		return err == nil
	})
	if !hostSaw {
		t.Errorf("the container's mount under its rshared bind never reached the host (%s/in)", vol)
	}
	// The host's mount, under the same shared directory.
	out := filepath.Join(vol, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("from-host", out, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "made-on-host"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := p.wait()
	if r.Code != 0 || !strings.Contains(r.Stdout, "saw-host-mount") {
		t.Errorf("the host's mount never reached the container: %s", r)
	}
}

// sharedTmpfs mounts a tmpfs on a fresh directory and makes it shared (as
// kubelet's volume directories are on a systemd host), whatever the
// propagation of the host's "/"; cleanup detaches it with everything that
// propagated under it.
func sharedTmpfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("hull-e2e-shared", dir, "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	if err := unix.Mount("", dir, "", unix.MS_SHARED, ""); err != nil {
		t.Fatalf("make %s shared: %v", dir, err)
	}
	return dir
}
