package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// consoleReceiver listens on a unix socket for the pty master a container
// sends, and collects everything read from it.
type consoleReceiver struct {
	path string
	done chan struct{}
	out  bytes.Buffer
	err  error
}

func newConsoleReceiver(t *testing.T, dir string) *consoleReceiver {
	t.Helper()
	r := &consoleReceiver{path: filepath.Join(dir, "console.sock"), done: make(chan struct{})}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: r.path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go r.serve(l)
	return r
}

func (r *consoleReceiver) serve(l *net.UnixListener) {
	defer close(r.done)
	conn, err := l.AcceptUnix()
	if err != nil {
		r.err = err
		return
	}
	defer conn.Close()
	master, err := receiveFd(conn)
	if err != nil {
		r.err = err
		return
	}
	defer master.Close()
	// EIO: the container closed the last slave.
	if _, err := io.Copy(&r.out, master); err != nil && !errors.Is(err, syscall.EIO) {
		r.err = err
	}
}

// receiveFd takes one fd passed with SCM_RIGHTS.
func receiveFd(conn *net.UnixConn) (*os.File, error) {
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := conn.ReadMsgUnix(name, oob)
	if err != nil {
		return nil, fmt.Errorf("recvmsg: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("control message: %d messages, %v", len(msgs), err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("SCM_RIGHTS: %v %v", fds, err)
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}

// TestTerminalConsoleSocket: with process.terminal, the container's stdio
// is a pty whose master reaches the --console-socket.
func TestTerminalConsoleSocket(t *testing.T) {
	t.Parallel()
	c := newContainer(t, func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.ConsoleSize = &specs.Box{Height: 30, Width: 100}
		s.Process.Args = sh("echo tty=$(tty); echo size=$(stty size); test -t 0 && test -t 1 && echo stdio-is-tty")
	})
	rcv := newConsoleReceiver(t, c.tmp)
	r := c.run("--console-socket", rcv.path)
	if r.Code != 0 {
		t.Fatalf("%s", r)
	}
	waitConsole(t, rcv)
	out := strings.ReplaceAll(rcv.out.String(), "\r", "")
	wantContains(t, out, "tty=/dev/pts/0", "size=30 100", "stdio-is-tty")
	if strings.Contains(r.Stdout, "tty=") {
		t.Errorf("container output went to hull's stdout, not the pty: %s", r)
	}
}

// TestTerminalWithoutSocket: terminal true without a console socket is a
// clear error for create.
func TestTerminalWithoutSocket(t *testing.T) {
	t.Parallel()
	c := newContainer(t, func(s *specs.Spec) { s.Process.Terminal = true })
	r := c.create()
	if r.Code == 0 || !strings.Contains(r.Stderr, "console-socket") {
		t.Errorf("want a failure naming --console-socket: %s", r)
	}
	assertNothingLeft(t, c)
}

// TestPreserveFds: the container reads fd 3 passed with --preserve-fds,
// and gets no other fd from hull.
func TestPreserveFds(t *testing.T) {
	t.Parallel()
	c := newContainer(t, func(s *specs.Spec) {
		s.Process.Args = sh("cat <&3; echo fds=$(ls /proc/self/fd | tr '\\n' ' ')")
	})
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	pw.WriteString("preserved-data\n")
	pw.Close()
	p := c.startHull([]*os.File{pr}, "run", "--preserve-fds", "1", "--bundle", c.Bundle, c.ID)
	pr.Close()
	r := p.wait()
	if r.Code != 0 {
		t.Fatalf("%s", r)
	}
	// 0-3 are stdio and the preserved fd, 4 is the directory ls reads.
	wantContains(t, r.Stdout, "preserved-data", "fds=0 1 2 3 4\n")
}

// TestJoinNetworkNamespace: a network namespace given by path is joined,
// not a new one made.
func TestJoinNetworkNamespace(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip (iproute2) is not installed")
	}
	name := "hull-e2e-" + uniqueName(t)[len(uniqueName(t))-8:]
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "delete", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns delete %s: %v: %s", name, err, out)
		}
	})
	path := "/var/run/netns/" + name
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	c := newContainer(t, func(s *specs.Spec) {
		for i, ns := range s.Linux.Namespaces {
			if ns.Type == specs.NetworkNamespace {
				s.Linux.Namespaces[i].Path = path
			}
		}
	})
	out := c.runOutput("readlink", "/proc/self/ns/net")
	if want := fmt.Sprintf("net:[%d]", st.Ino); strings.TrimSpace(out) != want {
		t.Errorf("container's network namespace %q, want the joined %s", out, want)
	}
}

// caretEcho matches a terminal's echo of a control character (^@ … ^_).
var caretEcho = regexp.MustCompile(`\^[@-_]`)

// TestRunTerminalProxy: `hull run` of a terminal container with no console
// socket takes the pty itself and proxies it to the caller's terminal (here
// a pty that script(1) provides); /dev/console is the container's pty, and
// the exit status passes through.
func TestRunTerminalProxy(t *testing.T) {
	t.Parallel()
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) from util-linux is needed to give hull run a terminal")
	}
	c := newContainer(t, func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.Args = sh(`echo tty=$(tty); stat -c "console=%t:%T" /dev/console; stat -c "pty=%t:%T" $(tty); exit 7`)
	})
	cmdline := fmt.Sprintf("%s --root %s run --bundle %s %s", c.bin, c.Root, c.Bundle, c.ID)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, script, "-qec", cmdline, "/dev/null").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 7 {
		t.Fatalf("hull run under script: %v, want exit status 7\n%s", err, out)
	}
	// Terminal output: carriage returns and NUL padding (which terminals
	// ignore; one appears now and then on this stream) are not text, nor is
	// the container pty's echo of a control byte script(1) writes to its
	// input (ECHOCTL's caret form, "^@"), which can land at a line's start.
	text := caretEcho.ReplaceAllString(strings.NewReplacer("\r", "", "\x00", "").Replace(string(out)), "")
	wantContains(t, text, "tty=/dev/pts/0")
	var console, pty string
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(l, "console="); ok {
			console = v
		}
		if v, ok := strings.CutPrefix(l, "pty="); ok {
			pty = v
		}
	}
	if console == "" || console != pty {
		t.Errorf("/dev/console is %q, the container's pty %q: want the same device\n%s", console, pty, text)
	}
}
