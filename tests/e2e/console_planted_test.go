package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// consoleCheck prints the device of /dev/console and of stdin (the pty),
// and SAME when they agree.
const consoleCheck = `a=$(stat -L -c %t:%T /dev/console); b=$(stat -L -c %t:%T /proc/self/fd/0)
echo "console=$a stdin=$b"; [ -c /dev/console ] && [ "$a" = "$b" ] && echo SAME
grep ' /dev/console ' /proc/self/mountinfo`

// plant is one thing an image can put where the console goes; it edits
// the private rootfs and the spec.
type plant struct {
	name    string
	setup   func(t *testing.T, rootfs string, s *specs.Spec)
	refused string // non-empty: create must fail naming this
}

var consolePlants = []plant{
	{name: "symlink-to-file", setup: func(t *testing.T, r string, _ *specs.Spec) {
		must(t, os.Symlink("/target", filepath.Join(r, "dev/console")))
	}},
	{name: "symlink-to-proc", setup: func(t *testing.T, r string, _ *specs.Spec) {
		must(t, os.Symlink("/proc/sys/kernel/hostname", filepath.Join(r, "dev/console")))
	}},
	{name: "dangling-symlink", setup: func(t *testing.T, r string, _ *specs.Spec) {
		must(t, os.Symlink("/nowhere/console", filepath.Join(r, "dev/console")))
	}},
	{name: "regular-file", setup: func(t *testing.T, r string, _ *specs.Spec) {
		must(t, os.WriteFile(filepath.Join(r, "dev/console"), []byte("image file\n"), 0o644))
	}},
	{name: "empty-dir", setup: func(t *testing.T, r string, _ *specs.Spec) {
		must(t, os.Mkdir(filepath.Join(r, "dev/console"), 0o755))
	}},
	{name: "fifo", setup: func(t *testing.T, r string, _ *specs.Spec) {
		must(t, syscall.Mkfifo(filepath.Join(r, "dev/console"), 0o644))
	}},
	{name: "nonempty-dir", refused: "/dev/console", setup: func(t *testing.T, r string, _ *specs.Spec) {
		must(t, os.MkdirAll(filepath.Join(r, "dev/console/keep"), 0o755))
	}},
	// The image's /dev/pts/N are symlinks, its /dev/pts/ptmx leads to a
	// devpts of its own elsewhere: a console bound by name would be /target.
	{name: "pts-symlinks", setup: func(t *testing.T, r string, s *specs.Spec) {
		must(t, os.MkdirAll(filepath.Join(r, "dev/pts"), 0o755))
		must(t, os.MkdirAll(filepath.Join(r, "ownpts"), 0o755))
		must(t, os.Symlink("/ownpts/ptmx", filepath.Join(r, "dev/pts/ptmx")))
		for _, n := range []string{"0", "1", "2", "3"} {
			must(t, os.Symlink("/target", filepath.Join(r, "dev/pts", n)))
		}
		for i := range s.Mounts {
			if s.Mounts[i].Destination == "/dev/pts" {
				s.Mounts[i].Destination = "/ownpts"
			}
		}
	}},
}

// TestConsolePlanted: whatever the image planted at /dev/console or under
// /dev/pts, the container's /dev/console is its own pty and nothing the
// image points at is bound or written (CVE-2025-52565 class). runc runs
// the same flow as the control; its results are logged (the installed
// runc predates the fix).
func TestConsolePlanted(t *testing.T) {
	for _, rt := range runtimes(t) {
		for _, p := range consolePlants {
			t.Run(rt+"/"+p.name, func(t *testing.T) { consolePlanted(t, rt, p) })
		}
	}
}

func consolePlanted(t *testing.T, rt string, p plant) {
	c := newFor(t, rt, func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.Args = sh(consoleCheck)
		s.Root.Readonly = false
		// The image's own /dev, not a tmpfs the runtime makes.
		var keep []specs.Mount
		for _, m := range s.Mounts {
			if m.Destination != "/dev" {
				keep = append(keep, m)
			}
		}
		s.Mounts = keep
	})
	rootfs := c.privateRootfs()
	const secret = "host secret\n"
	must(t, os.WriteFile(filepath.Join(rootfs, "target"), []byte(secret), 0o644))
	p.setup(t, rootfs, c.Spec)
	c.writeSpec()
	rcv := newConsoleReceiver(t, c.tmp)
	// Detached: runc takes --console-socket only with -d.
	r := c.run("-d", "--console-socket", rcv.path)
	out := ""
	if r.Code == 0 {
		select {
		case <-rcv.done:
		case <-time.After(10 * time.Second):
			t.Fatal("no EOF from the pty master")
		}
		out = strings.ReplaceAll(rcv.out.String(), "\r", "")
		c.hull("delete", "--force", c.ID)
	}
	data, _ := os.ReadFile(filepath.Join(rootfs, "target"))
	ok := string(data) == secret && (p.refused == "" && r.Code == 0 && strings.Contains(out, "SAME") ||
		p.refused != "" && r.Code != 0 && strings.Contains(r.Stderr, p.refused))
	if rt != "hull" {
		t.Logf("control %s: ok=%v target %q exit %d: %s %s", rt, ok, data, r.Code, strings.TrimSpace(r.Stderr), out)
		return
	}
	if !ok {
		t.Errorf("target now %q; %s\nconsole output: %s", data, r, out)
	}
	if left := leftovers(c); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestExecTtyPtmxPlanted: `exec -t` opens the container's /dev/ptmx from
// hull, in the host's cgroup, so it must not open whatever the container
// put there: a running container replaced /dev/ptmx with a link to another
// device node. hull refuses naming /dev/ptmx, and the node is never
// opened (no IN_OPEN; hull 867ede5 opened it, found by review). runc, the
// control, opens it from inside the container's cgroup; logged.
func TestExecTtyPtmxPlanted(t *testing.T) {
	for _, rt := range runtimes(t) {
		t.Run(rt, func(t *testing.T) {
			c := newFor(t, rt, sleeper)
			c.runDetached()
			dev := filepath.Join("/proc", strconv.Itoa(c.state().Pid), "root/dev")
			must(t, syscall.Mknod(filepath.Join(dev, "xnull"), syscall.S_IFCHR|0o666, 1<<8|3))
			must(t, os.Remove(filepath.Join(dev, "ptmx")))
			must(t, os.Symlink("xnull", filepath.Join(dev, "ptmx")))
			opened := watchOpen(t, filepath.Join(dev, "xnull"))
			rcv := newConsoleReceiver(t, c.tmp)
			r := c.hull("exec", "-d", "-t", "--console-socket", rcv.path, c.ID, "true")
			if rt != "hull" {
				t.Logf("control %s: node opened %v; %s", rt, opened(), r)
				return
			}
			if r.Code == 0 || !strings.Contains(r.Stderr, "/dev/ptmx") {
				t.Errorf("exec -t with a planted /dev/ptmx: %s", r)
			}
			if opened() {
				t.Error("hull opened the node the container put at /dev/ptmx")
			}
		})
	}
}

// watchOpen reports whether path was opened (not with O_PATH) since the
// watch began.
func watchOpen(t *testing.T, path string) func() bool {
	t.Helper()
	in, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(in) })
	if _, err := unix.InotifyAddWatch(in, path, unix.IN_OPEN); err != nil {
		t.Fatal(err)
	}
	return func() bool {
		n, _ := unix.Read(in, make([]byte, 4096))
		return n > 0
	}
}
