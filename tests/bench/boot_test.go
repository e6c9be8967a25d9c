package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestRetargetCgroupMounts(t *testing.T) {
	in := []specs.Mount{
		{Destination: "/sys/fs/cgroup/systemd", Type: "bind", Source: "/sys/fs/cgroup/systemd/hull-bench-1/convert"},
		{Destination: "/run/host", Type: "bind", Source: "/tmp/b/run-host"},
		{Destination: "/x", Type: "bind", Source: "/srv/hull-bench-1/convert"}, // not a cgroup directory
	}
	out := retargetCgroupMounts(in, "/hull-bench-1/convert", "/hull-bench-1/runc-3")
	want := []string{"/sys/fs/cgroup/systemd/hull-bench-1/runc-3", "/tmp/b/run-host", "/srv/hull-bench-1/convert"}
	for i, w := range want {
		if out[i].Source != w {
			t.Errorf("mount %d source %q, want %q", i, out[i].Source, w)
		}
	}
	if in[0].Source != "/sys/fs/cgroup/systemd/hull-bench-1/convert" {
		t.Errorf("input mounts changed: %q", in[0].Source)
	}
}

func TestHasReady(t *testing.T) {
	for msg, want := range map[string]bool{
		"READY=1":                          true,
		"READY=1\nSTATUS=Startup finished": true,
		"STATUS=x\nREADY=1\nMAINPID=4":     true,
		"STATUS=READY=1":                   false,
		"READY=0":                          false,
		"":                                 false,
	} {
		if got := hasReady([]byte(msg)); got != want {
			t.Errorf("hasReady(%q) = %v, want %v", msg, got, want)
		}
	}
}

func TestIsNamespaceInit(t *testing.T) {
	for status, want := range map[string]bool{
		"Name:\tsystemd\nNSpid:\t4242\t1\nNSpgid:\t4242\t1\n": true,
		"Name:\tsystemd\nNSpid:\t4242\n":                      false, // pid 1 of nothing: host process
		"Name:\tjournald\nNSpid:\t4250\t17\n":                 false,
		"Name:\tx\nNSpid:\t9\t3\t1\n":                         true,
		"Name:\tx\n":                                          false,
	} {
		if got := isNamespaceInit(status); got != want {
			t.Errorf("isNamespaceInit(%q) = %v, want %v", status, got, want)
		}
	}
	own, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	if isNamespaceInit(string(own)) {
		t.Error("the test process reads as a container init")
	}
}

// TestReadyListener sends what relays send: notifications before READY=1,
// READY=1, then an sd_notify_barrier (BARRIER=1 with a pipe the sender
// waits on until the receiver closes it), as crun does.
func TestReadyListener(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	l, err := listenReady(sock)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			l.close()
		}
	}()
	c, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(c)
	to := &unix.SockaddrUnix{Name: sock}
	for _, m := range []string{"STATUS=starting", "READY=1\nSTATUS=Startup finished"} {
		if err := unix.Sendmsg(c, []byte(m), nil, to, 0); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-l.ready:
	case <-time.After(5 * time.Second):
		t.Fatal("no READY=1 seen")
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	if err := unix.Sendmsg(c, []byte("BARRIER=1"), unix.UnixRights(p[1]), to, 0); err != nil {
		t.Fatal(err)
	}
	unix.Close(p[1])
	// The read end sees EOF only once the listener closed its copy.
	fds := []unix.PollFd{{Fd: int32(p[0]), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, 5000); err != nil || n != 1 || fds[0].Revents&unix.POLLHUP == 0 {
		t.Errorf("barrier pipe not closed by the listener: poll n=%d revents=%#x err=%v", n, fds[0].Revents, err)
	}
	l.close()
	closed = true
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket %s left after close: %v", sock, err)
	}
}

// TestJoinCgroups moves a real process into a fresh absolute cgroup in
// every hierarchy (nspawn's set-up) and removes it again.
func TestJoinCgroups(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	if mnts, _ := cgroupMounts(); len(mnts) == 0 {
		t.Skip("no cgroup filesystem mounted here")
	}
	var r [4]byte
	rand.Read(r[:])
	parent := "/hull-bench-test-" + hex.EncodeToString(r[:])
	rel := parent + "/nspawn-1"
	cmd := exec.Command("/bin/sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if err := removeCgroupTree(parent); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if err := joinCgroups(rel, cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if !strings.HasSuffix(line, ":"+rel) {
			t.Errorf("hierarchy not joined: %q, want path %s", line, rel)
		}
	}
	if err := joinCgroups("relative/x", cmd.Process.Pid); err == nil {
		t.Error("relative cgroup accepted; it would land under the caller's cgroup")
	}
}
