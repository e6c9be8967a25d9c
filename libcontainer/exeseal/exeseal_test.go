package exeseal

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func requireRoot(t testing.TB) {
	if os.Getuid() != 0 {
		t.Skip("needs root: mounts")
	}
}

// TestChildCannotWriteItsExecutable starts a child the way hull starts its
// init and tries what a container process would: open /proc/PID/exe for
// writing. With a usable layer the binary comes through the overlay; with
// none (an overlay cannot be made) from the private namespace's bind.
func TestChildCannotWriteItsExecutable(t *testing.T) {
	requireRoot(t)
	if os.Getenv("EXESEAL_CHILD") == "1" {
		time.Sleep(10 * time.Second)
		return
	}
	for _, tc := range []struct {
		name        string
		layer       string
		wantPrivate bool
	}{
		{"overlay", layerOutside(t), false},
		{"private namespace", filepath.Join(t.TempDir(), "missing"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cmd *exec.Cmd
			var private bool
			err := Start(tc.layer, "", func(b Binary) error {
				private = b.Private
				cmd = exec.Command("/nonexistent", "-test.run=^TestChildCannotWriteItsExecutable$")
				cmd.Env = append(os.Environ(), "EXESEAL_CHILD=1")
				cmd.Path, cmd.ExtraFiles = b.Files(cmd.ExtraFiles)
				return cmd.Start()
			})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { cmd.Process.Kill(); cmd.Wait() }()
			if private != tc.wantPrivate {
				t.Fatalf("started in the private namespace: %v, want %v", private, tc.wantPrivate)
			}
			wantNotWritable(t, "/proc/"+strconv.Itoa(cmd.Process.Pid)+"/exe")
			// No mount of the binary in the caller's namespace.
			mine, _ := os.ReadFile("/proc/self/mountinfo")
			self, _ := os.Executable()
			if strings.Contains(string(mine), " "+self+" ") || strings.Contains(string(mine), " - overlay ") && strings.Contains(string(mine), filepath.Dir(self)) {
				t.Fatalf("a mount of %s leaked into the caller's mount namespace", self)
			}
		})
	}
}

// layerOutside is an empty directory for the overlay's second layer,
// neither above nor below the test binary's directory, which overlayfs
// would refuse as overlapping (a guest runs the binary from /tmp itself).
func layerOutside(t testing.TB) string {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Dir(self) + "/"
	for _, parent := range []string{os.TempDir(), "/run", "/dev/shm"} {
		dir, err := os.MkdirTemp(parent, "exeseal-layer-")
		if err != nil {
			continue
		}
		t.Cleanup(func() { os.Remove(dir) })
		if !strings.HasPrefix(bin, dir+"/") && !strings.HasPrefix(dir+"/", bin) {
			return dir
		}
	}
	t.Skipf("no directory outside %s for the overlay's second layer", bin)
	return ""
}

func wantNotWritable(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err == nil {
		f.Close()
		t.Fatalf("opened %s for writing", path)
	}
	if !errors.Is(err, unix.EROFS) && !errors.Is(err, unix.ETXTBSY) {
		t.Fatalf("open %s for writing: %v, want EROFS", path, err)
	}
}

// TestOverlaySuperblockReadOnly makes the CVE-2019-5736 attack with the
// powers of a privileged container (CAP_SYS_ADMIN over the host's user
// namespace): hold /proc/PID/exe of a process started from the sealed
// binary, let the process end (no more ETXTBSY), clear the read-only flag
// of the mount the held path is on, open it for writing. Against a
// read-only bind (the control) the write lands; against the overlay it
// fails, its superblock being read-only.
func TestOverlaySuperblockReadOnly(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	target := filepath.Join(dir, "bin", "sleep")
	os.MkdirAll(filepath.Dir(target), 0o755)
	orig, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Skip(err)
	}
	if err := os.WriteFile(target, orig, 0o755); err != nil {
		t.Fatal(err)
	}
	layer := filepath.Join(dir, "layer")
	os.Mkdir(layer, 0o755)

	sealed, mnt, _, err := overlayBinary(target, "", layer)
	if err != nil {
		t.Skipf("no overlay here: %v", err)
	}
	defer sealed.Close()
	unix.Close(mnt)
	// 6.1 (the guest) answers ETXTBSY, still seconds after the reaping
	// (the bind's denial there ends after a moment): a refusal too.
	if _, err := attack(t, Binary{file: sealed}); !errors.Is(err, unix.EROFS) && !errors.Is(err, unix.ETXTBSY) {
		t.Errorf("write to the overlay's binary after clearing its mount's read-only flag: %v, want EROFS", err)
	}
	if data, _ := os.ReadFile(target); string(data) != string(orig) {
		t.Fatalf("binary changed through the overlay")
	}

	// Control: the same steps defeat a detached read-only bind.
	bind, err := unix.OpenTree(unix.AT_FDCWD, target, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		t.Skipf("open_tree: %v", err)
	}
	bindFile := os.NewFile(uintptr(bind), "bind")
	defer bindFile.Close()
	if err := unix.MountSetattr(bind, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
		t.Fatal(err)
	}
	unsealed, err := attack(t, Binary{file: bindFile})
	if !unsealed {
		// 6.1 (the guest) lets no one change a detached mount's flags.
		t.Skipf("control: this kernel refuses mount_setattr on a detached mount")
	}
	if err != nil {
		t.Errorf("control: the read-only bind resisted: %v", err)
	}
	if data, _ := os.ReadFile(target); string(data) != "x" {
		t.Errorf("control: the binary is unchanged after the write through the bind")
	}
}

// attack starts a process from b, holds its /proc/PID/exe, ends it, clears
// the read-only flag of the held path's mount (cleared: whether that
// worked) and writes "x" through it.
func attack(t *testing.T, b Binary) (cleared bool, err error) {
	cmd := exec.Command("sleep", "10")
	cmd.Path, cmd.ExtraFiles = b.Files(cmd.ExtraFiles)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	held, err := unix.Open("/proc/"+strconv.Itoa(cmd.Process.Pid)+"/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
	cmd.Process.Kill()
	cmd.Wait()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(held)
	err = unix.MountSetattr(held, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_RDONLY})
	t.Logf("mount_setattr clearing MOUNT_ATTR_RDONLY: %v", err)
	cleared = err == nil
	// The exe's write denial ends with the process's mm, which an older
	// kernel (6.1 in the guest) may tear down a little after the reaping.
	var w *os.File
	for i := 0; ; i++ {
		w, err = os.OpenFile("/proc/self/fd/"+strconv.Itoa(held), os.O_WRONLY|os.O_TRUNC, 0)
		if !errors.Is(err, unix.ETXTBSY) || i == 100 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return cleared, err
	}
	defer w.Close()
	_, err = w.WriteString("x")
	return cleared, err
}

// TestStageSealed: a stage program beside the binary (hull-stage beside
// hull) is started instead of it, through the same seal, in each of its
// forms: the process's /proc/PID/exe, held past the process's end (no
// ETXTBSY left), cannot be written, and the file is unchanged. A stage
// that is not there leaves the binary itself (the fallback).
func TestStageSealed(t *testing.T) {
	requireRoot(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Skip(err)
	}
	name := "exeseal-stage-" + strconv.Itoa(os.Getpid())
	stage := filepath.Join(filepath.Dir(self), name)
	if err := os.WriteFile(stage, orig, 0o755); err != nil {
		t.Skipf("cannot write beside the test binary: %v", err)
	}
	defer os.Remove(stage)
	start := func(b Binary) (*exec.Cmd, error) {
		cmd := exec.Command("/nonexistent", "10")
		cmd.Path, cmd.ExtraFiles = b.Files(cmd.ExtraFiles)
		return cmd, cmd.Start()
	}
	for _, tc := range []struct {
		name, layer string
		start       func(string, func(Binary) error) error
	}{
		{"overlay", layerOutside(t), nil},
		{"private namespace", filepath.Join(t.TempDir(), "missing"), nil},
		{"sealed copy", "", func(_ string, f func(Binary) error) error { return startUnprivileged(stage, true, f) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			startFn := tc.start
			if startFn == nil {
				startFn = func(layer string, f func(Binary) error) error { return Start(layer, name, f) }
			}
			var cmd *exec.Cmd
			var isStage bool
			err := startFn(tc.layer, func(b Binary) (err error) {
				isStage = b.Stage
				cmd, err = start(b)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if !isStage {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("started hull's binary, not the stage beside it")
			}
			exe := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/exe"
			held, err := unix.Open(exe, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			cmd.Process.Kill()
			cmd.Wait()
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(held)
			if err := writeHeld(held); err == nil {
				t.Errorf("wrote the stage through %s of a process started from it", exe)
			} else {
				t.Logf("write through the held exe: %v", err)
			}
			if data, _ := os.ReadFile(stage); string(data) != string(orig) {
				t.Fatalf("the stage binary changed")
			}
		})
	}
	// Control: the same steps write a stage started from its own path.
	t.Run("control unsealed", func(t *testing.T) {
		cmd, err := start(Binary{path: stage})
		if err != nil {
			t.Fatal(err)
		}
		held, err := unix.Open("/proc/"+strconv.Itoa(cmd.Process.Pid)+"/exe", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		cmd.Process.Kill()
		cmd.Wait()
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(held)
		if err := writeHeld(held); err != nil {
			t.Errorf("control: write through the held exe of an unsealed start: %v", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		err := Start(layerOutside(t), name+"-missing", func(b Binary) error {
			if b.Stage {
				t.Errorf("Stage set for a stage that is not there")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// writeHeld reopens a held exe for writing and writes to it; ETXTBSY is
// waited out (the exe's write denial ends with the process's mm).
func writeHeld(held int) error {
	var w *os.File
	var err error
	for i := 0; ; i++ {
		w, err = os.OpenFile("/proc/self/fd/"+strconv.Itoa(held), os.O_WRONLY, 0)
		if !errors.Is(err, unix.ETXTBSY) || i == 100 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	defer w.Close()
	_, err = w.WriteAt([]byte("x"), 0)
	return err
}

func TestEscapeLayer(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/":   "/usr/bin/",
		"/a:b/":       `/a\:b/`,
		`/a\b:c`:      `/a\\b\:c`,
		"/run/hull-x": "/run/hull-x",
	} {
		if got := escapeLayer(in); got != want {
			t.Errorf("escapeLayer(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkStart(b *testing.B) {
	requireRoot(b)
	for _, tc := range []struct{ name, layer string }{
		{"overlay", layerOutside(b)},
		{"private namespace", "/nonexistent"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if err := Start(tc.layer, "", func(Binary) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The main thread must never run the sealing goroutine: a locked goroutine
// that exits on the main thread wedges it instead of ending it, and the main
// thread's namespace is what /proc/self shows. hull's main does the same.
func init() { runtime.LockOSThread() }

// TestStageOnlyBesideHull: a stage is looked up beside hull only. The
// overlay's lower layer (hull's state root) holding an executable of the
// stage's name must not stand in for it: hull then starts itself.
func TestStageOnlyBesideHull(t *testing.T) {
	requireRoot(t)
	layer := layerOutside(t)
	name := "exeseal-stage-" + strconv.Itoa(os.Getpid())
	planted := filepath.Join(layer, name)
	if err := os.WriteFile(planted, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(planted)
	var isStage, called bool
	if err := Start(layer, name, func(b Binary) error { called, isStage = true, b.Stage; return nil }); err != nil {
		t.Fatal(err)
	}
	if !called || isStage {
		t.Errorf("Start ran %v with the stage %v: want hull's own binary, not %s", called, isStage, planted)
	}
}

// TestBinaryName: a binary started through the overlay is named by its
// host path, not the /proc/self/fd path it is executed by.
func TestBinaryName(t *testing.T) {
	f, err := os.Open("/bin/sh")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	for _, tc := range []struct {
		b    Binary
		want string
	}{
		{Binary{file: f}, "/bin/sh"},
		{Binary{path: "/usr/bin/hull"}, "/usr/bin/hull"},
	} {
		if got := tc.b.Name(); got != tc.want {
			t.Errorf("Name() = %q, want %q", got, tc.want)
		}
	}
}
