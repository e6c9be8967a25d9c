package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	nspawnhooks "github.com/hull-runtime/hull/hooks/nspawn"
	"github.com/hull-runtime/hull/tests/testenv"
)

// TestConvertFailureLeavesNothing: a refused setting, and a pre-step that
// fails after an overlay was mounted, both exit non-zero naming the
// setting, and leave no bundle directory and no mount behind.
func TestConvertFailureLeavesNothing(t *testing.T) {
	bin, rootfs := testenv.RequireHull(t, "end-to-end tests")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"refused", []string{"--private-users=524288", "--bind-user=root"}, "BindUser=root"},
		{"pre-step after overlay", []string{"--volatile=overlay", "--load-credential=c:/nonexistent"}, "--load-credential=c"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			bundle := filepath.Join(parent, "bundle")
			args := append([]string{"convert", "--bundle", bundle, "-D", rootfs, "-M", "bb"}, tc.args...)
			out, err := exec.Command(bin, append(args, "--", "/bin/true")...).CombinedOutput()
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Errorf("hull %v: %v, want a failure naming %s:\n%s", args, err, tc.want, out)
			}
			if _, err := os.Lstat(bundle); !os.IsNotExist(err) {
				t.Errorf("bundle directory left behind (%v)", err)
			}
			if m, _ := nspawnhooks.MountsUnder(parent); len(m) > 0 {
				t.Errorf("mounts left behind: %v", m)
			}
		})
	}
}
