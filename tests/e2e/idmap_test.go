package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// idmapSource is a host directory holding a file owned by the host's root.
func idmapSource(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	return dir
}

// TestIdmapMounts: an idmap bind mount shows the source's owners through
// its mapping, beside a plain bind of the same directory (the control),
// with the mount's own mappings in a container without a user namespace
// and with the container's mappings in one with (Kubernetes' user
// namespaces, podman's idmap volumes). Both failed before hull create made
// the mapped tree: the init could neither spawn the namespace's holder
// (its /proc is the host's, its pid namespace not) nor map a filesystem
// its user namespace does not own. runc 1.1 ignores idmap: no control.
func TestIdmapMounts(t *testing.T) {
	t.Parallel()
	one := func(id uint32) []specs.LinuxIDMapping {
		return []specs.LinuxIDMapping{{ContainerID: 0, HostID: id, Size: 1}}
	}
	for _, tc := range []struct {
		name   string
		setup  func(s *specs.Spec, m *specs.Mount)
		want   string // owner of f through the idmap mount
		plain  string // through the plain bind
		writes string // host owner of a file the container's root creates, "" not tried
	}{
		{"mount-mappings", func(s *specs.Spec, m *specs.Mount) {
			m.UIDMappings, m.GIDMappings = one(4242), one(4343)
		}, "4242:4343", "0:0", ""},
		{"mappings-without-option", func(s *specs.Spec, m *specs.Mount) {
			m.Options = []string{"bind"}
			m.UIDMappings, m.GIDMappings = one(4242), one(4343)
		}, "4242:4343", "0:0", ""},
		{"container-userns", func(s *specs.Spec, m *specs.Mount) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
		}, "0:0", "65534:65534", "0:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := idmapSource(t)
			c := newContainer(t, func(s *specs.Spec) {
				m := specs.Mount{Destination: "/home", Type: "bind", Source: src, Options: []string{"bind", "idmap"}}
				tc.setup(s, &m)
				s.Mounts = append(s.Mounts, m,
					specs.Mount{Destination: "/var", Type: "bind", Source: src, Options: []string{"bind"}})
				script := "echo idmap=$(stat -c %u:%g /home/f) plain=$(stat -c %u:%g /var/f); grep ' /home ' /proc/self/mountinfo"
				if tc.writes != "" {
					script += "; echo y > /home/new"
				}
				s.Process.Args = sh(script)
			})
			r := c.run()
			if r.Code != 0 {
				t.Fatalf("%s", r)
			}
			wantContains(t, r.Stdout, "idmap="+tc.want, "plain="+tc.plain, "idmapped")
			if tc.writes == "" {
				return
			}
			var st syscall.Stat_t
			if err := syscall.Stat(filepath.Join(src, "new"), &st); err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%d:%d", st.Uid, st.Gid); got != tc.writes {
				t.Errorf("a file the container's root made through the idmap mount is %s on the host, want %s", got, tc.writes)
			}
		})
	}
}

// TestIdmapMountUnmappable: an idmap mount with no mappings of its own in a
// container with no user namespace fails create, naming the mount, and
// leaves no container behind.
func TestIdmapMountUnmappable(t *testing.T) {
	t.Parallel()
	src := idmapSource(t)
	c := newContainer(t, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/home", Type: "bind", Source: src, Options: []string{"bind", "idmap"}})
	})
	r := c.create()
	if r.Code == 0 || !strings.Contains(r.Stderr, "(/home): idmap") || !strings.Contains(r.Stderr, "no user namespace") {
		t.Fatalf("want a failure naming the /home mount's idmap: %s", r)
	}
	if r := c.hull("state", c.ID); r.Code == 0 {
		t.Errorf("a failed create left a container: %s", r.Stdout)
	}
}
