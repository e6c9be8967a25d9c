package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// procDest is a mount whose destination lies, directly or through an
// image symlink, inside /proc.
type procDest struct {
	name    string
	links   map[string]string // image symlinks: path in rootfs -> target
	mount   specs.Mount
	allowed bool // runc lets it through (lxcfs files)
}

func procDests(hostFile string) []procDest {
	bind := func(dest string) specs.Mount {
		return specs.Mount{Destination: dest, Type: "bind", Source: hostFile, Options: []string{"bind", "ro"}}
	}
	return []procDest{
		{name: "symlink-to-core_pattern", links: map[string]string{"x": "/proc/sys/kernel/core_pattern"}, mount: bind("/x")},
		{name: "symlink-dir-into-proc", links: map[string]string{"y": "/proc/sys/kernel"}, mount: bind("/y/hostname")},
		{name: "relative-symlink", links: map[string]string{"z": "../proc/self/attr/current"}, mount: bind("/z")},
		{name: "direct-proc-sys", mount: specs.Mount{Destination: "/proc/sys", Type: "tmpfs", Source: "tmpfs"}},
		{name: "tmpfs-on-proc", mount: specs.Mount{Destination: "/proc", Type: "tmpfs", Source: "tmpfs"}},
		{name: "lxcfs-uptime", mount: bind("/proc/uptime"), allowed: true},
	}
}

// TestMountIntoProcRefused: a mount whose resolved destination lies inside
// /proc is refused with an error naming it, and nothing is left, as runc
// does; lxcfs's files stay allowed. runc runs the same flow as control.
func TestMountIntoProcRefused(t *testing.T) {
	hostFile := filepath.Join(t.TempDir(), "decoy")
	must(t, os.WriteFile(hostFile, []byte("decoy\n"), 0o644))
	for _, rt := range runtimes(t) {
		for _, d := range procDests(hostFile) {
			t.Run(rt+"/"+d.name, func(t *testing.T) {
				c := newFor(t, rt, func(s *specs.Spec) {
					s.Process.Args = sh("cat /proc/sys/kernel/core_pattern >/dev/null && echo RAN")
					s.Mounts = append(s.Mounts, d.mount)
				})
				rootfs := c.privateRootfs()
				for p, target := range d.links {
					must(t, os.Symlink(target, filepath.Join(rootfs, p)))
				}
				r := c.run()
				ok := d.allowed == (r.Code == 0)
				if !d.allowed {
					ok = ok && strings.Contains(r.Stderr, d.mount.Destination) && strings.Contains(r.Stderr, "proc")
				}
				if rt != "hull" {
					t.Logf("control %s: ok=%v exit %d: %s", rt, ok, r.Code, strings.TrimSpace(r.Stderr+r.Stdout))
					return
				}
				if !ok {
					t.Errorf("want allowed=%v with an error naming %s and /proc: %s", d.allowed, d.mount.Destination, r)
				}
				if r.Code != 0 {
					if left := leftovers(c); len(left) > 0 {
						t.Errorf("left behind: %v", left)
					}
				}
			})
		}
	}
}
