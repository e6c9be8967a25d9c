package seccomp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
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

// A loaded filter cannot be removed, so every load happens in a re-executed
// copy of the test binary; childEnv names the case it runs.
const (
	childEnv     = "HULL_SECCOMP_TEST_CHILD"
	listenerEnv  = "HULL_SECCOMP_TEST_LISTENER"
	profileEnv   = "HULL_SECCOMP_TEST_PROFILE"
	notifyAnswer = 4242
	agentAnswer  = 777
)

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		os.Exit(runChild(name))
	}
	os.Exit(m.Run())
}

// childResult is what a child prints as JSON on stdout: errno values (0 for
// success) or return values keyed by probe name.
type childResult map[string]int64

func runChild(name string) int {
	cases := map[string]func() (childResult, error){
		"errno": childErrno, "kill-process": childKillProcess, "kill-thread": childKillThread,
		"trap": childTrap, "args": childArgs, "log": childLog, "notify-self": childNotifySelf,
		"notify-agent": childNotifyAgent, "default-profile": childDefaultProfile,
		"bench-load-bpf": childBenchBPF, "bench-load-libseccomp": childBenchLibseccomp,
		"cache-worker": childCacheWorker,
	}
	fn, ok := cases[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown child case %q\n", name)
		return 3
	}
	res, err := fn()
	if err != nil {
		fmt.Fprintf(os.Stderr, "child %s: %v\n", name, err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return 1
	}
	return 0
}

// startChild re-executes the test binary for one case in a temp dir.
func startChild(t *testing.T, name string, env ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	if err := unix.Prctl(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err != nil {
		t.Skipf("seccomp unavailable: %v", err)
	}
	cmd := childCommand(name, env...)
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, &stdout, &stderr
}

func childCommand(name string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{childEnv + "=" + name}, env...)...)
	return cmd
}

// waitChild waits with a deadline so a wedged filter fails the test instead
// of hanging it.
func waitChild(t *testing.T, cmd *exec.Cmd) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatal("child did not exit within 30s")
		return nil
	}
}

func childOK(t *testing.T, name string, env ...string) childResult {
	t.Helper()
	cmd, stdout, stderr := startChild(t, name, env...)
	if err := waitChild(t, cmd); err != nil {
		t.Fatalf("child %s: %v\nstderr: %s", name, err, stderr)
	}
	var res childResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("child %s output %q: %v", name, stdout, err)
	}
	return res
}

func expect(t *testing.T, res childResult, want childResult) {
	t.Helper()
	for k, v := range want {
		got, ok := res[k]
		if !ok {
			t.Errorf("%s: missing from child result %v", k, res)
		} else if got != v {
			t.Errorf("%s = %d, want %d", k, got, v)
		}
	}
}

func TestLoadErrno(t *testing.T) {
	res := childOK(t, "errno")
	expect(t, res, childResult{
		"mkdir":              int64(unix.EACCES),
		"mkdir_other_thread": int64(unix.EACCES), // TSYNC reached a thread that existed before Load
		"mkdirat":            0,                  // only the named syscall is affected
		"getcwd":             int64(unix.ENOMSG),
		"listener_fd":        -1,
	})
}

func TestLoadKillProcess(t *testing.T) {
	cmd, stdout, stderr := startChild(t, "kill-process")
	err := waitChild(t, cmd)
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("child exited cleanly (%v), stdout %s stderr %s", err, stdout, stderr)
	}
	ws := ee.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != unix.SIGSYS {
		t.Fatalf("child status %v, want killed by SIGSYS", ws)
	}
}

func TestLoadKillThread(t *testing.T) {
	res := childOK(t, "kill-thread")
	expect(t, res, childResult{"thread_returned": 0, "process_alive": 1})
}

func TestLoadTrap(t *testing.T) {
	cmd, _, stderr := startChild(t, "trap")
	err := waitChild(t, cmd)
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("child survived SCMP_ACT_TRAP: %v", err)
	}
	// The Go runtime turns a synchronous SIGSYS into a fatal "bad system
	// call" report naming the signal, which proves TRAP delivered it.
	if !strings.Contains(stderr.String(), "SIGSYS") {
		t.Fatalf("stderr lacks SIGSYS: %s", stderr)
	}
}

func TestLoadArgumentConditions(t *testing.T) {
	res := childOK(t, "args")
	expect(t, res, childResult{
		"getpgid_self":     0,
		"getpgid_1":        int64(unix.EDOM), // split rule, first condition
		"getpgid_2":        int64(unix.EDOM), // split rule, second condition
		"getsid_0x13":      int64(unix.EXDEV),
		"getsid_0x113":     int64(unix.EXDEV), // mask drops the 0x100
		"getsid_0":         0,
		"getprio_0_5":      int64(unix.ENOTBLK), // both AND-ed conditions hold
		"getprio_0_0":      0,                   // second one fails
		"getprio_pgrp_big": int64(unix.ESRCH),   // first one fails: real kernel answer
	})
}

func TestLoadLog(t *testing.T) {
	res := childOK(t, "log")
	if res["ppid_after"] != res["ppid_before"] || res["ppid_after"] <= 0 {
		t.Fatalf("SCMP_ACT_LOG changed getppid: %v", res)
	}
}

func TestLoadNotifySelf(t *testing.T) {
	res := childOK(t, "notify-self")
	if res["listener_fd"] < 0 {
		t.Fatalf("no listener fd: %v", res)
	}
	expect(t, res, childResult{"getppid": notifyAnswer, "notified_syscall_is_getppid": 1})
}

func TestLoadDefaultProfile(t *testing.T) {
	abs, err := filepath.Abs("testdata/default.json")
	if err != nil {
		t.Fatal(err)
	}
	res := childOK(t, "default-profile", profileEnv+"="+abs)
	expect(t, res, childResult{
		"exec_true":        0,
		"mkdirat":          0,
		"acct":             int64(unix.EPERM),  // not listed: defaultErrnoRet
		"clone3":           int64(unix.ENOSYS), // explicit errnoRet
		"socket_unix":      0,
		"socket_vsock":     int64(unix.EPERM),
		"personality_get":  0,
		"personality_norn": int64(unix.EPERM),
		"unshare":          int64(unix.EPERM),
	})
}

// TestLoadNotifyAgent plays the seccomp agent: the child loads a NOTIFY
// filter and hands the listener over with SendListener; the test checks
// the container process state and serves the notification with that fd.
func TestLoadNotifyAgent(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd, stdout, stderr := startChild(t, "notify-agent", listenerEnv+"="+sock)
	if err := ln.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	conn, err := ln.AcceptUnix()
	if err != nil {
		t.Fatalf("accept: %v (child stderr: %s)", err, stderr)
	}
	defer conn.Close()
	msg, fds := readAll(t, conn)
	if len(fds) != 1 {
		t.Fatalf("received %d fds, want 1", len(fds))
	}
	defer unix.Close(fds[0])
	var st specs.ContainerProcessState
	if err := json.Unmarshal(msg, &st); err != nil {
		t.Fatalf("state %q: %v", msg, err)
	}
	want := specs.ContainerProcessState{
		Version: specs.Version, Fds: []string{specs.SeccompFdName}, Pid: cmd.Process.Pid, Metadata: "hull-test-meta",
		State: specs.State{Version: specs.Version, ID: "ctr1", Status: specs.StateRunning, Pid: cmd.Process.Pid, Bundle: "/bundle"},
	}
	if fmt.Sprint(st) != fmt.Sprint(want) {
		t.Errorf("state = %+v\nwant    %+v", st, want)
	}
	ok, err := answerOne(fds[0], agentAnswer)
	if err != nil || !ok {
		t.Fatalf("serving the notification: ok=%v err=%v", ok, err)
	}
	if err := waitChild(t, cmd); err != nil {
		t.Fatalf("child: %v\nstderr: %s", err, stderr)
	}
	var res childResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	expect(t, res, childResult{"getppid": agentAnswer})
}

// readAll reads the whole stream, taking SCM_RIGHTS from any message.
func readAll(t *testing.T, conn *net.UnixConn) ([]byte, []int) {
	t.Helper()
	var msg []byte
	var fds []int
	buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4*4))
	for {
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		msg = append(msg, buf[:n]...)
		if oobn > 0 {
			cmsgs, perr := unix.ParseSocketControlMessage(oob[:oobn])
			if perr != nil {
				t.Fatal(perr)
			}
			for _, m := range cmsgs {
				got, perr := unix.ParseUnixRights(&m)
				if perr != nil {
					t.Fatal(perr)
				}
				fds = append(fds, got...)
			}
		}
		if err != nil || n == 0 {
			return msg, fds
		}
	}
}

func TestSendListenerErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	missing := filepath.Join(t.TempDir(), "nobody.sock")
	err := SendListener(ctx, missing, "", 1, specs.State{}, 0)
	if err == nil || !strings.Contains(err.Error(), missing) || !errors.Is(err, unix.ENOENT) {
		t.Fatalf("SendListener to a missing socket = %v, want ENOENT naming the path", err)
	}
}
