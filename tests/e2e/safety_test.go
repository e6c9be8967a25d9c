package e2e

import (
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// escapeLink is a symlink in the rootfs meant to lead a mount or cwd to
// host path target: absolute, or climbing out with "..".
func escapeLink(t *testing.T, rootfs, name, target string, relative bool) {
	t.Helper()
	dest := target
	if relative {
		dest = strings.Repeat("../", 16) + strings.TrimPrefix(target, "/")
	}
	if err := os.Symlink(dest, filepath.Join(rootfs, name)); err != nil {
		t.Fatal(err)
	}
}

// TestSymlinkMountDestination: a mount destination through a symlink that
// points out of the rootfs is resolved inside it; the host path stays
// untouched.
func TestSymlinkMountDestination(t *testing.T) {
	t.Parallel()
	for _, relative := range []bool{false, true} {
		t.Run("relative="+strconv.FormatBool(relative), func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, nil)
			rootfs := c.privateRootfs()
			// The "host" target lives in this test's temp dir, so an escape
			// harms nothing and is seen.
			host := filepath.Join(c.tmp, "host-target")
			if err := os.Mkdir(host, 0o755); err != nil {
				t.Fatal(err)
			}
			escapeLink(t, rootfs, "etc2", host, relative)
			src := filepath.Join(c.tmp, "src")
			os.Mkdir(src, 0o755)
			os.WriteFile(filepath.Join(src, "planted"), []byte("x"), 0o644)
			c.Spec.Mounts = append(c.Spec.Mounts,
				specs.Mount{Destination: "/etc2/tmpfs-dir", Type: "tmpfs", Source: "tmpfs"},
				specs.Mount{Destination: "/etc2/bind-dir", Type: "bind", Source: src, Options: []string{"rbind", "ro"}})
			c.Spec.Process.Args = sh("grep -E 'tmpfs-dir|bind-dir' /proc/self/mountinfo; ls /etc2/bind-dir")
			c.writeSpec()
			r := c.run()
			t.Logf("%s", r)
			entries, err := os.ReadDir(host)
			if err != nil || len(entries) > 0 {
				t.Errorf("host dir behind the symlink was written to: %v %v", entries, err)
			}
			if r.Code == 0 && !strings.Contains(r.Stdout, "planted") {
				t.Errorf("the bind is not visible through the symlink inside the container: %s", r)
			}
		})
	}
}

// TestSymlinkCwd: a process.cwd through a symlink that points out of the
// rootfs stays inside it.
func TestSymlinkCwd(t *testing.T) {
	t.Parallel()
	for _, relative := range []bool{false, true} {
		t.Run("relative="+strconv.FormatBool(relative), func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, nil)
			rootfs := c.privateRootfs()
			host := filepath.Join(c.tmp, "host-cwd")
			os.Mkdir(host, 0o755)
			os.WriteFile(filepath.Join(host, "HOST-SECRET"), []byte("secret"), 0o644)
			escapeLink(t, rootfs, "cwdlink", host, relative)
			// The in-rootfs twin of the target exists, so cwd can succeed.
			inside := filepath.Join(rootfs, host)
			os.MkdirAll(inside, 0o755)
			os.WriteFile(filepath.Join(inside, "INSIDE"), []byte("ok"), 0o644)
			c.Spec.Process.Cwd = "/cwdlink"
			c.Spec.Process.Args = sh("pwd; ls")
			c.writeSpec()
			r := c.run()
			if strings.Contains(r.Stdout, "HOST-SECRET") {
				t.Errorf("cwd escaped the rootfs: %s", r)
			}
			if r.Code != 0 || !strings.Contains(r.Stdout, "INSIDE") {
				t.Errorf("want cwd in the rootfs' own %s: %s", host, r)
			}
		})
	}
}

// TestInitExeNotWritable: the binary a created container's init runs
// (hull-stage beside hull, or hull alone) cannot be opened for writing
// through /proc/PID/exe (the runc CVE-2019-5736 class of attack).
func TestInitExeNotWritable(t *testing.T) {
	t.Parallel()
	for _, alone := range []bool{false, true} {
		t.Run(exeCase(alone), func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, func(s *specs.Spec) { s.Process.Args = []string{"true"} })
			exeFile := initExeFile(t, c, alone)
			before := fileHash(t, exeFile)
			c.mustCreate()
			pid := c.state().Pid
			exe := "/proc/" + strconv.Itoa(pid) + "/exe"
			// "/NAME" through the overlay, the path through the private bind.
			if link, _ := os.Readlink(exe); filepath.Base(link) != filepath.Base(exeFile) {
				t.Errorf("%s -> %q, want the sealed %s", exe, link, exeFile)
			}
			f, err := os.OpenFile(exe, os.O_WRONLY, 0)
			if err == nil {
				f.Close()
				t.Fatalf("opened %s for writing", exe)
			}
			if !errors.Is(err, unix.EROFS) && !errors.Is(err, unix.ETXTBSY) && !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EPERM) {
				t.Errorf("open %s O_WRONLY: %v, want EROFS, ETXTBSY or EACCES", exe, err)
			}
			t.Logf("open %s O_WRONLY: %v", exe, err)
			if after := fileHash(t, exeFile); after != before {
				t.Errorf("%s changed", exeFile)
			}
		})
	}
}

func exeCase(alone bool) string {
	if alone {
		return "hull alone"
	}
	return "hull-stage"
}

// initExeFile is the binary c's init starts from: hull-stage beside hull,
// or, alone, hull copied where no hull-stage is (c.bin is set to it).
func initExeFile(t *testing.T, c *container, alone bool) string {
	if alone {
		c.bin = hullAlone(t, c.bin)
		return c.bin
	}
	requireParentBuild(t) // else the Go init, from hull
	return stageOf(t, c.bin)
}

func fileHash(t *testing.T, path string) [32]byte {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

// TestInitExeNotWritableFromContainer makes the CVE-2019-5736 attempt from
// inside: a process exec'd into a created container, with CAP_SYS_PTRACE
// (to reach the non-dumpable init) and CAP_SYS_ADMIN, opens its init's
// /proc/1/exe — hull-stage (or hull, alone), before start — for reading,
// waits until the init has exec'd the container's program (no process runs
// that binary any more, so no ETXTBSY), and reopens the held file for
// writing through /proc/self/fd. The kernel must refuse with EROFS (the
// binary came through a read-only overlay or bind); the host binary stays
// as it was.
func TestInitExeNotWritableFromContainer(t *testing.T) {
	t.Parallel()
	for _, alone := range []bool{false, true} {
		t.Run(exeCase(alone), func(t *testing.T) {
			t.Parallel()
			initExeAttack(t, alone)
		})
	}
}

func initExeAttack(t *testing.T, alone bool) {
	c := newContainer(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "30"}
		caps := s.Process.Capabilities
		for _, set := range []*[]string{&caps.Bounding, &caps.Effective, &caps.Permitted} {
			*set = append(*set, "CAP_SYS_PTRACE", "CAP_SYS_ADMIN")
		}
	})
	exeFile := initExeFile(t, c, alone)
	out := c.outDir()
	before := fileHash(t, exeFile)
	c.mustCreate()
	script := `exec 4</proc/1/exe; readlink /proc/1/exe > /tmp/before; echo held > /tmp/held
		for i in $(seq 100); do [ "$(readlink /proc/1/exe)" = /bin/busybox ] && break; sleep 0.05; done
		readlink /proc/1/exe > /tmp/after
		( exec 5<>/proc/self/fd/4 ) 2> /tmp/err && echo OPENED > /tmp/opened; echo done > /tmp/done`
	c.mustHull("exec", "-d", c.ID, "sh", "-c", script)
	waitFile(t, filepath.Join(out, "held"), 10*time.Second)
	c.mustHull("start", c.ID)
	waitFile(t, filepath.Join(out, "done"), 10*time.Second)
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(out, name))
		return strings.TrimSpace(string(b))
	}
	t.Logf("init's exe before start %q, after %q; reopen for writing: %q", read("before"), read("after"), read("err"))
	if filepath.Base(read("before")) != filepath.Base(exeFile) {
		t.Errorf("the init ran %q before start, want the sealed %s", read("before"), exeFile)
	}
	if read("after") != "/bin/busybox" {
		t.Fatalf("the init did not exec the container's program in time: exe %q", read("after"))
	}
	if read("opened") != "" {
		t.Errorf("the container opened the binary its init ran (%s) for writing", exeFile)
	} else if !strings.Contains(read("err"), "Read-only file system") {
		t.Errorf("want EROFS, got %q", read("err"))
	}
	if after := fileHash(t, exeFile); after != before {
		t.Errorf("%s changed", exeFile)
	}
}
