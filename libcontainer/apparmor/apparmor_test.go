package apparmor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/procfs"
)

// childEnv makes the re-executed test binary run the over-mount case in a
// mount namespace of its own, which dies with it.
const childEnv = "HULL_APPARMOR_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := childOvermountedAttr(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

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

// TestApplyOnExecOvermount: an image that mounts a tmpfs over the thread's
// attr directory, with decoy exec files in it, cannot catch the write: the
// handle does not see the over-mount (or refuses to cross into it), and the
// decoys stay empty.
func TestApplyOnExecOvermount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a mount namespace")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func childOvermountedAttr() error {
	runtime.LockOSThread()
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	attr := fmt.Sprintf("/proc/%d/task/%d/attr", os.Getpid(), unix.Gettid())
	if err := unix.Mount("tmpfs", attr, "tmpfs", 0, ""); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", attr, err)
	}
	decoys := []string{filepath.Join(attr, "apparmor/exec"), filepath.Join(attr, "exec")}
	for _, d := range decoys {
		if err := os.MkdirAll(filepath.Dir(d), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(d, nil, 0o666); err != nil {
			return err
		}
	}
	h, err := procfs.Open()
	if err != nil {
		return fmt.Errorf("open the real /proc: %w", err)
	}
	defer h.Close()
	// procfs.Open either works on a private clone of /proc, where the
	// over-mount does not exist and the write reaches the kernel's own
	// attr file (refused here only if AppArmor is off), or refuses to cross
	// into the over-mount (EXDEV). Either way the decoys stay empty.
	err = ApplyOnExec(h, "process.apparmorProfile", "hull-test")
	switch {
	case errors.Is(err, unix.EXDEV), err != nil && strings.Contains(err.Error(), "refused by the kernel"):
		if !strings.Contains(err.Error(), `process.apparmorProfile "hull-test"`) {
			return fmt.Errorf("error does not name the field and value: %v", err)
		}
	case err != nil:
		return fmt.Errorf("write with an over-mounted attr dir: %v", err)
	case !Enabled():
		return errors.New("write accepted without AppArmor: it must have landed somewhere else")
	}
	for _, d := range decoys {
		if data, _ := os.ReadFile(d); len(data) != 0 {
			return fmt.Errorf("decoy %s was written: %q", d, data)
		}
	}
	return nil
}
