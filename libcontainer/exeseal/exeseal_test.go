package exeseal

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func requireRoot(t testing.TB) {
	if os.Getuid() != 0 {
		t.Skip("needs root: mounts in a private mount namespace")
	}
}

// TestChildCannotWriteItsExecutable starts a child the way hull starts its
// init and tries what a container process would: open /proc/PID/exe for writing.
func TestChildCannotWriteItsExecutable(t *testing.T) {
	requireRoot(t)
	if os.Getenv("EXESEAL_CHILD") == "1" {
		time.Sleep(10 * time.Second)
		return
	}
	var cmd *exec.Cmd
	err := Start(func(exe string, _ bool) error {
		cmd = exec.Command(exe, "-test.run=^TestChildCannotWriteItsExecutable$")
		cmd.Env = append(os.Environ(), "EXESEAL_CHILD=1")
		return cmd.Start()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	exe := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/exe"
	f, err := os.OpenFile(exe, os.O_WRONLY, 0)
	if err == nil {
		f.Close()
		t.Fatalf("opened %s for writing", exe)
	}
	if !errors.Is(err, unix.EROFS) && !errors.Is(err, unix.ETXTBSY) {
		t.Fatalf("open %s for writing: %v, want EROFS", exe, err)
	}
	// The read-only mount exists only in the child's namespace, not ours.
	mine, _ := os.ReadFile("/proc/self/mountinfo")
	self, _ := os.Executable()
	if strings.Contains(string(mine), " "+self+" ") {
		t.Fatalf("bind mount of %s leaked into the caller's mount namespace", self)
	}
}

func BenchmarkStart(b *testing.B) {
	requireRoot(b)
	for i := 0; i < b.N; i++ {
		if err := Start(func(string, bool) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// The main thread must never run the sealing goroutine: a locked goroutine
// that exits on the main thread wedges it instead of ending it, and the main
// thread's namespace is what /proc/self shows. hull's main does the same.
func init() { runtime.LockOSThread() }
