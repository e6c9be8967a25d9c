package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestTmpfsKeepsCoveredMode: a tmpfs mounted on a directory of the rootfs
// without a mode= option gets that directory's mode, as under runc (the
// control): Docker's --tmpfs /run must not turn a 0750 /var into a
// world-writable 1777. A tmpfs on a directory made for it keeps tmpfs's
// own 1777, and an explicit mode= wins (runc 1.1 overrides that one with
// the directory's mode: not compared).
func TestTmpfsKeepsCoveredMode(t *testing.T) {
	t.Parallel()
	tmpfs := func(dest string, opts ...string) specs.Mount {
		return specs.Mount{Destination: dest, Type: "tmpfs", Source: "tmpfs", Options: append([]string{"nosuid", "nodev"}, opts...)}
	}
	for _, c := range withControls(t, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, tmpfs("/var"), tmpfs("/made-for-tmpfs"), tmpfs("/home", "mode=711"))
		s.Process.Args = sh("stat -c '%n %a' /var /made-for-tmpfs /home")
	}) {
		rt := c.runtimeName()
		root := c.privateRootfs()
		if err := os.Chmod(filepath.Join(root, "var"), 0o750); err != nil {
			t.Fatal(err)
		}
		c.writeSpec()
		r := c.run()
		if r.Code != 0 {
			t.Fatalf("%s", r)
		}
		lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
		want := []string{"/var 750", "/made-for-tmpfs 1777"}
		if rt == "hull" {
			want = append(want, "/home 711")
		}
		for _, w := range want {
			if !slices.Contains(lines, w) {
				t.Errorf("%s: modes inside %q, want %q among them", rt, lines, w)
			}
		}
	}
}
