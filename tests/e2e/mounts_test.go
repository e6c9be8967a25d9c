package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestTmpcopyup: podman's tmpcopyup fills each new tmpfs with what the
// image had there: files, owners, modes, symlinks (never followed), and a
// read-only tmpfs still gets its copy; the tmpfs's root takes the covered
// directory's mode, not its owner (a directory made for the mount keeps the
// tmpfs's mode=, as podman's --mount type=tmpfs,tmpfs-mode= needs). runc is the control: both must show the
// same tree.
func TestTmpcopyup(t *testing.T) {
	t.Parallel()
	host := t.TempDir()
	script := `for p in /data /data/f /data/sub /data/sub/x /data/link /data/out /rodata/f /fresh; do stat -c '%n %a %u:%g %F' $p; done; ` +
		`readlink /data/link; readlink /data/out; cat /data/f /rodata/f; grep -E ' /(data|rodata) ' /proc/self/mounts | cut -d' ' -f2,3,4 | cut -d, -f1; ` +
		`echo new >/data/new && echo wrote; touch /rodata/g 2>/dev/null || echo ro-refused`
	outs := map[string]string{}
	for _, c := range withControls(t, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "tmpcopyup"}},
			specs.Mount{Destination: "/rodata", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup", "ro"}},
			// Not in the image: the directory made for it keeps mode=.
			specs.Mount{Destination: "/fresh", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup", "mode=700"}})
	}) {
		rootfs := c.privateRootfs()
		d := filepath.Join(rootfs, "data")
		must(t, os.MkdirAll(filepath.Join(d, "sub"), 0o755))
		must(t, unix.Chmod(d, 0o751))
		must(t, os.Chown(d, 12, 34))
		must(t, os.WriteFile(filepath.Join(d, "f"), []byte("image-file\n"), 0o644))
		must(t, os.Chown(filepath.Join(d, "f"), 1000, 1001))
		must(t, unix.Chmod(filepath.Join(d, "sub"), 0o711))
		must(t, os.WriteFile(filepath.Join(d, "sub/x"), nil, 0o600))
		must(t, os.Symlink("f", filepath.Join(d, "link")))
		must(t, os.Symlink(host, filepath.Join(d, "out")))
		must(t, os.MkdirAll(filepath.Join(rootfs, "rodata"), 0o755))
		must(t, os.WriteFile(filepath.Join(rootfs, "rodata/f"), []byte("ro-file\n"), 0o644))
		out := c.runOutput("sh", "-c", script)
		outs[c.runtimeName()] = out
		wantContains(t, out, "/data 751 0:0 directory", "/data/f 644 1000:1001 regular file", "/data/sub 711 0:0 directory",
			"/data/link 777 0:0 symbolic link", "\nf\n"+host+"\n", "image-file\nro-file\n",
			"/data tmpfs rw", "/rodata tmpfs ro", "wrote", "ro-refused", "/fresh 700 0:0 directory")
		if _, err := os.Stat(filepath.Join(d, "new")); err == nil {
			t.Errorf("%s: a write into the tmpfs reached the image", c.runtimeName())
		}
	}
	if entries, _ := os.ReadDir(host); len(entries) != 0 {
		t.Errorf("host directory a symlink pointed at was written: %v", entries)
	}
	if len(outs) == 2 && outs["hull"] != outs["runc"] {
		t.Errorf("hull and runc differ:\nhull:\n%s\nrunc:\n%s", outs["hull"], outs["runc"])
	}
}

// TestTmpcopyupXattrs: hull also keeps extended attributes (runc copies
// none), seen from the host through the container's root.
func TestTmpcopyupXattrs(t *testing.T) {
	t.Parallel()
	c := newContainer(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "1000"}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup"}})
	})
	d := filepath.Join(c.privateRootfs(), "data")
	must(t, os.MkdirAll(d, 0o755))
	must(t, os.WriteFile(filepath.Join(d, "f"), nil, 0o644))
	if err := unix.Setxattr(filepath.Join(d, "f"), "user.hull", []byte("kept"), 0); err != nil {
		t.Skipf("the image's filesystem takes no user xattrs: %v", err)
	}
	c.mustCreate()
	p := filepath.Join("/proc", strconv.Itoa(c.state().Pid), "root/data/f")
	buf := make([]byte, 16)
	n, err := unix.Getxattr(p, "user.hull", buf)
	if err != nil || string(buf[:n]) != "kept" {
		t.Errorf("user.hull on the copy: %q, %v", buf[:max(n, 0)], err)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(filepath.Dir(p), &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
		t.Errorf("/data in the container is not a tmpfs: %#x, %v", fs.Type, err)
	}
}

// TestBadMountOptions: an option hull does not know on a bind mount, the
// extensions on the wrong kind of mount, and a filesystem option the kernel
// refuses all fail create and run, naming the mount's options field and
// the value, and leave nothing behind.
func TestBadMountOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		mount specs.Mount
		want  []string
	}{
		{"bind", specs.Mount{Destination: "/mnt", Type: "bind", Source: "/etc", Options: []string{"rbind", "e2e-nope"}},
			[]string{"config.json", ".options \"e2e-nope\"", "unknown mount option"}},
		{"tmpcopyup on a bind", specs.Mount{Destination: "/mnt", Type: "bind", Source: "/etc", Options: []string{"rbind", "tmpcopyup"}},
			[]string{"config.json", `.options "tmpcopyup"`, "only for tmpfs"}},
		{"tmpfs", specs.Mount{Destination: "/mnt", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m", "e2e-nope=1"}},
			[]string{`.options "e2e-nope=1"`, "Unknown parameter 'e2e-nope'"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, func(s *specs.Spec) {
				s.Process.Args = []string{"true"}
				s.Mounts = append(s.Mounts, tc.mount)
			})
			c.privateRootfs() // a mountpoint may be made before the options are refused
			for _, cmd := range []string{"create", "run"} {
				r := c.hull(cmd, "--bundle", c.Bundle, c.ID)
				if r.Code == 0 || strings.Contains(r.Stderr, "panic") {
					t.Errorf("%s: %s", cmd, r)
				}
				t.Logf("%s: %s", cmd, strings.TrimSpace(r.Stderr))
				wantContains(t, r.Stderr, append([]string{"mounts["}, tc.want...)...)
				assertNothingLeft(t, c)
			}
		})
	}
}
