package apparmor

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/hull-runtime/hull/libcontainer/procfs"
)

func TestEnabledUnder(t *testing.T) {
	for _, tc := range []struct {
		name     string
		param    string // content of the module parameter; "" = no file
		security bool   // securityfs shows the apparmor directory
		want     bool
	}{
		{"enabled", "Y\n", true, true},
		{"disabled at boot", "N\n", true, false},
		{"not an active LSM", "Y\n", false, false},
		{"no module", "", true, false},
		{"nothing", "", false, false},
		{"empty parameter", "\n", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys := t.TempDir()
			if tc.param != "" {
				p := filepath.Join(sys, enabledParam)
				mustMkdir(t, filepath.Dir(p))
				if err := os.WriteFile(p, []byte(tc.param), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.security {
				mustMkdir(t, filepath.Join(sys, securityDir))
			}
			if got := enabledUnder(sys); got != tc.want {
				t.Errorf("enabledUnder = %v, want %v", got, tc.want)
			}
		})
	}
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name, profile string
		want          []string // substrings of the error; nil = no error
	}{
		{"none", "", nil},
		{"nul", "a\x00b", []string{"process.apparmorProfile", `"a\x00b"`, "NUL"}},
		{"newline", "a\nexec b", []string{"process.apparmorProfile", "line break"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate("process.apparmorProfile", tc.profile)
			checkErr(t, err, tc.want)
		})
	}
	t.Run("host", func(t *testing.T) {
		err := Validate("process.apparmorProfile", "hull-test")
		if Enabled() {
			checkErr(t, err, nil)
		} else {
			checkErr(t, err, []string{"process.apparmorProfile", `"hull-test"`, "AppArmor is not enabled on this host"})
		}
	})
}

func checkErr(t *testing.T, err error, want []string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want one with %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

// TestApplyOnExecWithoutAppArmor: on a kernel where AppArmor does not
// handle the attribute, the write is refused and the error names the field,
// the value and the kernel's answer. (With AppArmor, tests/guest checks
// the real confinement.)
func TestApplyOnExecWithoutAppArmor(t *testing.T) {
	if Enabled() {
		t.Skip("AppArmor is enabled here; tests/guest covers confinement")
	}
	if _, err := os.Stat("/proc/self/attr/exec"); err != nil {
		t.Skipf("kernel without LSM attr files: %v", err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	h, err := procfs.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	err = ApplyOnExec(h, "process.apparmorProfile", "hull-test")
	checkErr(t, err, []string{"process.apparmorProfile", `"hull-test"`, "refused by the kernel"})
	if err := ApplyOnExec(h, "process.apparmorProfile", ""); err != nil {
		t.Errorf("empty profile: %v, want nothing done", err)
	}
}
