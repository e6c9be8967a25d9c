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
