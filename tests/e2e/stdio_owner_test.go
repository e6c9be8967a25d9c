package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// openPty returns a new pty's master and slave, owned by this (root) process.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

func ownerOf(t *testing.T, f *os.File) uint32 {
	t.Helper()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Uid
}

// TestCallersStdioNotChowned: a foreground exec or run whose process runs
// as a user never hands the caller's own files or terminal to that user
// (hull chowned them: the host's terminal became uid 1000's to write into),
// and the process still gets its input, writes its output and reopens its
// stdout through /proc/self/fd, as under runc (the control), which copies
// through pipes as hull now does for such stdio.
func TestCallersStdioNotChowned(t *testing.T) {
	t.Parallel()
	const script = "echo out; echo err >&2; cat; echo via-proc > /proc/self/fd/1"
	eachRuntime(t, func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1000}
		s.Process.Args = sh(script)
	}, func(t *testing.T, c *container) {
		master, slave := openPty(t)
		runWith := func(args ...string) string {
			in := filepath.Join(c.tmp, "in")
			if err := os.WriteFile(in, []byte("in\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			stdin, _ := os.Open(in)
			defer stdin.Close()
			out, err := os.CreateTemp(c.tmp, "out-") // 0600, root's
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, c.bin, append([]string{"--root", c.Root}, args...)...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, out, slave
			if err := cmd.Run(); err != nil {
				t.Fatalf("%s %v: %v", c.runtimeName(), args, err)
			}
			if uid := ownerOf(t, out); uid != 0 {
				t.Errorf("%s %v: the caller's stdout file is now uid %d's", c.runtimeName(), args, uid)
			}
			if uid := ownerOf(t, slave); uid != 0 {
				t.Errorf("%s %v: the caller's terminal is now uid %d's", c.runtimeName(), args, uid)
			}
			data, _ := os.ReadFile(out.Name())
			return string(data)
		}
		if got := runWith("run", "--bundle", c.Bundle, c.ID); got != "out\nin\nvia-proc\n" {
			t.Errorf("%s run: stdout %q", c.runtimeName(), got)
		}
		c.Spec.Process.Args = []string{"sleep", "1000"}
		c.writeSpec()
		c.mustCreate()
		c.mustHull("start", c.ID)
		if got := runWith(append([]string{"exec", "--user", "1000:1000", c.ID}, sh(script)...)...); got != "out\nin\nvia-proc\n" {
			t.Errorf("%s exec: stdout %q", c.runtimeName(), got)
		}
		master.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		n, _ := master.Read(buf)
		if !strings.Contains(string(buf[:n]), "err") {
			t.Errorf("%s: stderr on the terminal: %q", c.runtimeName(), buf[:n])
		}
	})
}

// TestRelayEndsWithTheContainer: a foreground run as a user, without a pid
// namespace of its own, whose program leaves a child holding its stdout
// still returns once the program exits (the child dies with the
// container) and the program's output reaches the caller's file, as under
// runc (the control).
func TestRelayEndsWithTheContainer(t *testing.T) {
	t.Parallel()
	eachRuntime(t, func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1000}
		s.Process.Args = sh("sleep 60 & echo started")
		var ns []specs.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != specs.PIDNamespace {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = ns
	}, func(t *testing.T, c *container) {
		out, err := os.CreateTemp(c.tmp, "out-")
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, c.bin, "--root", c.Root, "run", "--bundle", c.Bundle, c.ID)
		cmd.Stdout = out
		began := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s run: %v", c.runtimeName(), err)
		}
		if took := time.Since(began); took > 15*time.Second {
			t.Errorf("%s run took %v: it waited for the child", c.runtimeName(), took)
		}
		if data, _ := os.ReadFile(out.Name()); string(data) != "started\n" {
			t.Errorf("%s: stdout %q", c.runtimeName(), data)
		}
	})
}
