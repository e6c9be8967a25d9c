package rootfs

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Tests that mount run twice: the parent (go test) re-executes the test
// binary for just that test in a fresh private mount namespace, and the
// child does the mounting. Everything the child mounts dies with it.
const (
	childEnv = "HULL_ROOTFS_TEST_CHILD"
	dirEnv   = "HULL_ROOTFS_TEST_DIR"
	hostEnv  = "HULL_ROOTFS_TEST_HOSTDIR"
)

func inChild() bool { return os.Getenv(childEnv) == "1" }

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates mount namespaces and mounts")
	}
}

// runChild re-runs the current test in a new mount namespace (Go's
// Unshareflags also makes "/" rprivate there) and fails if the child does.
func runChild(t *testing.T, env ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), append([]string{childEnv + "=1"}, env...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	t.Logf("child output:\n%s", out)
}

// newRootfs makes a minimal rootfs with busybox in it.
func newRootfs(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rootfs")
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, "/bin/busybox", filepath.Join(dir, "bin/busybox"))
	return dir
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Skipf("needs %s (busybox-static): %v", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
}

// assertNoHostMounts checks the host namespace has nothing mounted under dir.
func assertNoHostMounts(t *testing.T, dir string) {
	t.Helper()
	mounts, err := readMountinfo("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		if strings.HasPrefix(m.mountpoint, dir) {
			t.Errorf("leaked mount on the host: %s (%s)", m.mountpoint, m.fstype)
		}
	}
}

// mountAt returns the mountinfo entry for exactly mountpoint, if any.
func mountAt(t *testing.T, mountpoint string) *mountEntry {
	t.Helper()
	mounts, err := readMountinfo("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var found *mountEntry
	for i := range mounts {
		if mounts[i].mountpoint == mountpoint {
			found = &mounts[i]
		}
	}
	return found
}
