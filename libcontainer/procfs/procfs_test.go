package procfs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// childEnv selects a test case to run in a re-executed test binary, so mount
// tricks happen in a throwaway mount namespace that dies with the child.
const childEnv = "HULL_PROCFS_TEST_CHILD"

var childCases = map[string]func() error{
	"tmpfs-over-proc":    childTmpfsOverProc,
	"bind-subdir":        childBindSubdir,
	"overmount-file":     childOvermountFile,
	"overmount-procfile": childOvermountProcFile,
}

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		if err := childCases[name](); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for mount namespaces")
	}
}

func runChild(t *testing.T, name string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+name)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %s: %v\n%s", name, err, out)
	}
}

func privateMounts() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	return nil
}

// expectOpenFails asserts Open() rejects the current /proc with want in the
// message.
func expectOpenFails(want string) error {
	h, err := Open()
	if err == nil {
		h.Close()
		return errors.New("Open accepted a fake /proc")
	}
	if !strings.Contains(err.Error(), want) {
		return fmt.Errorf("Open error %q does not mention %q", err, want)
	}
	return nil
}

func childTmpfsOverProc() error {
	if err := privateMounts(); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", "/proc", "tmpfs", 0, ""); err != nil {
		return fmt.Errorf("mount tmpfs on /proc: %w", err)
	}
	// Make the fake look like the real thing to a naive writer.
	if err := os.MkdirAll("/proc/self", 0o755); err != nil {
		return err
	}
	if err := os.WriteFile("/proc/self/oom_score_adj", []byte("0"), 0o644); err != nil {
		return err
	}
	return expectOpenFails("is not on procfs")
}

func childBindSubdir() error {
	if err := privateMounts(); err != nil {
		return err
	}
	if err := unix.Mount("/proc/sys", "/proc", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind /proc/sys on /proc: %w", err)
	}
	return expectOpenFails("is not the root of a procfs mount")
}

func childOvermountFile() error {
	if err := privateMounts(); err != nil {
		return err
	}
	decoy := filepath.Join(os.TempDir(), "hull-procfs-decoy-"+strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(decoy, []byte("decoy"), 0o600); err != nil {
		return err
	}
	defer os.Remove(decoy)
	if err := writeThroughOvermount(decoy); err != nil {
		return err
	}
	data, _ := os.ReadFile(decoy)
	if string(data) != "decoy" {
		return fmt.Errorf("decoy was overwritten: %q", data)
	}
	return nil
}

// childOvermountProcFile: another procfs file bound over the target is
// still "a procfs file"; the write must reach the intended one.
func childOvermountProcFile() error {
	if err := privateMounts(); err != nil {
		return err
	}
	decoy := "/proc/" + strconv.Itoa(os.Getpid()) + "/timerslack_ns"
	before, err := os.ReadFile(decoy)
	if err != nil {
		return err
	}
	if err := writeThroughOvermount(decoy); err != nil {
		return err
	}
	after, _ := os.ReadFile(decoy)
	if string(after) != string(before) {
		return fmt.Errorf("decoy %s was written: %q, was %q", decoy, after, before)
	}
	return nil
}

// writeThroughOvermount binds decoy over this process's oom_score_adj and
// writes it through Open: the private clone of /proc must reach the real
// file (or, without a clone, refuse the crossing with EXDEV).
func writeThroughOvermount(decoy string) error {
	target := "/proc/" + strconv.Itoa(os.Getpid()) + "/oom_score_adj"
	if err := unix.Mount(decoy, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s on %s: %w", decoy, target, err)
	}
	defer unix.Unmount(target, unix.MNT_DETACH)
	h, err := Open()
	if err != nil {
		return fmt.Errorf("Open of the real /proc failed: %w", err)
	}
	defer h.Close()
	err = h.WriteFile("self/oom_score_adj", []byte("100"))
	if errors.Is(err, unix.EXDEV) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("write through overmount: %w", err)
	}
	got, err := h.ReadFile("self/oom_score_adj")
	if err != nil || strings.TrimSpace(string(got)) != "100" {
		return fmt.Errorf("the real oom_score_adj is %q (%v), want 100", got, err)
	}
	return nil
}

func TestOpenRejectsFakes(t *testing.T) {
	requireRoot(t)
	for _, name := range []string{"tmpfs-over-proc", "bind-subdir", "overmount-file", "overmount-procfile"} {
		t.Run(name, func(t *testing.T) { runChild(t, name) })
	}
}

func TestOpenAndReadWrite(t *testing.T) {
	h, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	status, err := h.ReadFile("self/status")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("\nPid:\t%d\n", os.Getpid())
	if !strings.Contains(string(status), want) {
		t.Fatalf("self/status does not contain %q", want)
	}
	old, err := h.ReadFile("self/oom_score_adj")
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		return
	}
	// Only raise: lowering needs CAP_SYS_RESOURCE, and the raised value
	// dies with this test process.
	_ = old
	if err := h.WriteFile("self/oom_score_adj", []byte("123")); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile("/proc/self/oom_score_adj")
	if strings.TrimSpace(string(got)) != "123" {
		t.Fatalf("oom_score_adj = %q, want 123", got)
	}
}

func TestOpenFileRejects(t *testing.T) {
	h, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	tests := []struct {
		rel  string
		want string
	}{
		{"../etc/passwd", "must be relative and clean"},
		{"/etc/passwd", "must be relative and clean"},
		{"self/../1/status", "must be relative and clean"},
		{"", "must be relative and clean"},
		{"self/cwd", "too many levels of symbolic links"}, // magic link
		{"mounts", "too many levels of symbolic links"},   // plain symlink
		{"self/nonexistent", "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.rel, func(t *testing.T) {
			f, err := h.OpenFile(tc.rel, unix.O_RDONLY)
			if err == nil {
				f.Close()
				t.Fatalf("OpenFile(%q) succeeded", tc.rel)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "/proc/"+tc.rel) {
				t.Fatalf("OpenFile(%q) error %q, want it to name the path and mention %q", tc.rel, err, tc.want)
			}
		})
	}
}

func TestWalkFallback(t *testing.T) {
	h, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	fd, err := h.walk("sys/kernel/cap_last_cap", unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	if _, err := h.walk("mounts", unix.O_RDONLY); !errors.Is(err, unix.ELOOP) {
		t.Fatalf("walk through symlink: got %v, want ELOOP", err)
	}
	if _, err := h.walk("self/status", unix.O_RDONLY); err == nil {
		t.Fatal("walk followed the self symlink")
	}
}

func TestOpenSelfFD(t *testing.T) {
	h, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	opath, err := unix.Open(p, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(opath)
	f, err := h.OpenSelfFD(opath, unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 5)
	if _, err := f.Read(buf); err != nil || string(buf) != "hello" {
		t.Fatalf("read via reopened fd: %q, %v", buf, err)
	}
	if _, err := h.OpenSelfFD(9999, unix.O_RDONLY); err == nil || !strings.Contains(err.Error(), "/proc/self/fd/9999") {
		t.Fatalf("OpenSelfFD(9999) error %v, want one naming the path", err)
	}
}

func TestThreadSelf(t *testing.T) {
	h, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := h.ReadFile("thread-self/comm"); err != nil {
		t.Fatal(err)
	}
}
