package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestCwdMade: a process.cwd the rootfs lacks is created (0755, the
// container's root), as runc does, on hull's fast path, through its Go
// init, and under runc (the control); through an absolute symlink in the
// rootfs it lands inside the rootfs, never on the host.
func TestCwdMade(t *testing.T) {
	t.Parallel()
	for _, cwd := range []string{"/work/deep", "/lnk/made-by-cwd-test"} {
		t.Run(strings.ReplaceAll(cwd[1:], "/", "-"), func(t *testing.T) {
			t.Parallel()
			if _, err := os.Lstat(filepath.Join("/etc", filepath.Base(cwd))); err == nil {
				t.Fatalf("/etc/%s exists on the host before the test", filepath.Base(cwd))
			}
			eachInitVariant(t, func(s *specs.Spec) {
				s.Process.Cwd = cwd
				s.Process.Args = sh("pwd; stat -c '%a %u' .")
			}, func(t *testing.T, rt string, c *container) {
				root := c.privateRootfs()
				if err := os.Symlink("/etc", filepath.Join(root, "lnk")); err != nil {
					t.Fatal(err)
				}
				c.writeSpec()
				r := c.run()
				if r.Code != 0 {
					t.Fatalf("%s", r)
				}
				want := strings.Replace(cwd, "/lnk/", "/etc/", 1) + " 755 0" // pwd resolves the link
				if got := strings.Join(strings.Fields(r.Stdout), " "); got != want {
					t.Errorf("%s: pwd and mode inside: %q, want %q", rt, got, want)
				}
				inRootfs := filepath.Join(root, cwd)
				if strings.HasPrefix(cwd, "/lnk/") {
					inRootfs = filepath.Join(root, "etc", filepath.Base(cwd))
				}
				if st, err := os.Stat(inRootfs); err != nil || !st.IsDir() {
					t.Errorf("%s: %s not made in the rootfs: %v", rt, inRootfs, err)
				}
				if _, err := os.Lstat(filepath.Join("/etc", filepath.Base(cwd))); err == nil {
					os.Remove(filepath.Join("/etc", filepath.Base(cwd)))
					t.Errorf("%s: the cwd was made on the host, through the rootfs's symlink", rt)
				}
			})
		})
	}
}

// TestCwdNotMadeThroughInitCwd: a process.cwd through a symlink to
// /proc/1/cwd is never made on the host. Until the init leaves the
// working directory it inherited from hull, that magic link leads to the
// host's tree; hull 867ede5 made such a WORKDIR with os.MkdirAll, as
// root, anywhere on the host (found by review). hull refuses the path
// (its check sees no such directory inside the root); runc, the control,
// has already changed into the new root and makes it inside.
func TestCwdNotMadeThroughInitCwd(t *testing.T) {
	t.Parallel()
	up := strings.Repeat("/..", 16) // from wherever hull runs, up to the host's /
	hostTmp := "hull-cwd-escape-" + uniqueName(t)
	for _, tc := range []struct{ name, link, cwd, host string }{
		{"beside-hull", "/proc/1/cwd", "/x/" + hostTmp, ""},
		{"host-tmp", "/proc/1/cwd" + up, "/x/tmp/" + hostTmp, filepath.Join("/tmp", hostTmp)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachInitVariant(t, func(s *specs.Spec) {
				s.Process.Cwd = tc.cwd
				s.Process.Args = []string{"pwd"}
			}, func(t *testing.T, rt string, c *container) {
				root := c.privateRootfs()
				must(t, os.Symlink(tc.link, filepath.Join(root, "x")))
				c.writeSpec()
				r := c.run()
				// hull runs in the test's working directory: /proc/1/cwd led there.
				wd, err := os.Getwd()
				must(t, err)
				for _, host := range []string{tc.host, filepath.Join(wd, hostTmp), filepath.Join(c.Bundle, hostTmp)} {
					if host == "" {
						continue
					}
					if _, err := os.Lstat(host); err == nil {
						os.Remove(host)
						t.Errorf("%s: %s made on the host through /proc/1/cwd\n%s", rt, host, r)
					}
				}
				switch {
				case rt == "runc":
					if r.Code != 0 {
						t.Logf("runc (control): %s", r)
					}
				case r.Code == 0:
					t.Errorf("%s ran with a working directory through /proc/1/cwd:\n%s", rt, r)
				default:
					wantContains(t, r.Stderr, "process.cwd")
				}
			})
		})
	}
}
