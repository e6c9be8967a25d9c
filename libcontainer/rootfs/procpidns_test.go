package rootfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestMountProcOf: a proc mounted from outside a pid namespace with its fd
// (fsconfig "pidns") is that namespace's: its pid 1 is the namespace's
// init, the mounter has no /proc/self there; the spec's flags become mount
// attributes, its data proc's keys, and a key proc refuses is named.
func TestMountProcOf(t *testing.T) {
	requireRoot(t)
	if !ProcPidNS() {
		t.Skip("this kernel's proc has no pidns parameter (Linux 6.15)")
	}
	if !inChild() {
		runChild(t)
		return
	}
	holder := exec.Command("/bin/busybox", "sleep", "60")
	holder.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID, Pdeathsig: syscall.SIGKILL}
	if err := holder.Start(); err != nil {
		t.Skipf("needs /bin/busybox and pid namespaces: %v", err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	ns, err := unix.Open("/proc/"+strconv.Itoa(holder.Process.Pid)+"/ns/pid", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ns)
	for _, tc := range []struct {
		name    string
		options []string
		wantErr string
	}{
		{"flags", []string{"nosuid", "noexec", "nodev"}, ""},
		{"data", []string{"nosuid", "hidepid=2"}, ""},
		{"bad key", []string{"bogus=1"}, "bogus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			o, err := parseOptions(tc.options)
			if err != nil {
				t.Fatal(err)
			}
			m := specs.Mount{Destination: "/proc", Type: "proc", Source: "proc", Options: tc.options}
			err = mountProcOf(ns, m, o, fd)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Unmount(dir, unix.MNT_DETACH)
			comm, err := os.ReadFile(filepath.Join(dir, "1", "comm"))
			if err != nil || strings.TrimSpace(string(comm)) != "busybox" {
				t.Errorf("pid 1 of the mounted proc: %q, %v; want the namespace's busybox sleep", comm, err)
			}
			if _, err := os.Readlink(filepath.Join(dir, "self")); err == nil {
				t.Errorf("the mounter has a /proc/self in another pid namespace's proc")
			}
			var st unix.Statfs_t
			if err := unix.Statfs(dir, &st); err != nil {
				t.Fatal(err)
			}
			if st.Flags&stNosuid == 0 {
				t.Errorf("statfs flags %#x: nosuid missing", st.Flags)
			}
			if tc.name == "flags" && st.Flags&(stNoexec|stNodev) != stNoexec|stNodev {
				t.Errorf("statfs flags %#x: noexec, nodev missing", st.Flags)
			}
		})
	}
}

// TestWalkRefusesProcfs: creating a missing destination never goes into a
// procfs, with the path named (a symlink leads there).
func TestWalkRefusesProcfs(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/proc/self/nonexistent", filepath.Join(dir, "z")); err != nil {
		t.Fatal(err)
	}
	r, err := openRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// In the root, /proc is an empty directory: the walk would make it.
	if fd, err := r.ensure("/z", false, false); err != nil {
		t.Fatalf("plain directory /proc: %v", err)
	} else {
		unix.Close(fd)
	}
	if err := refuseProcfs(int(mustOpen(t, "/proc")), []string{"proc"}); err == nil || !strings.Contains(err.Error(), "/proc") {
		t.Errorf("refuseProcfs on /proc: %v", err)
	}
	if err := refuseProcfs(int(mustOpen(t, dir)), []string{"x"}); err != nil {
		t.Errorf("refuseProcfs on a tmp dir: %v", err)
	}
}

func mustOpen(t *testing.T, p string) uintptr {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f.Fd()
}
