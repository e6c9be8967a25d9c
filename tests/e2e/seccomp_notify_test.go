package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// mkdirSyscalls are what busybox's mkdir may call, depending on libc.
var mkdirSyscalls = []string{"mkdir", "mkdirat"}

// mkdirProfile allows everything but mkdir, which gets action.
func mkdirProfile(action specs.LinuxSeccompAction, errnoRet *uint) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls:      []specs.LinuxSyscall{{Names: mkdirSyscalls, Action: action, ErrnoRet: errnoRet}},
	}
}

// mkdirScript tries a mkdir in the container's /tmp (a host directory from
// outDir, so a broken filter never writes into the shared rootfs).
const mkdirScript = "mkdir /tmp/d-$$ 2>&1; echo rc=$?; test -d /tmp/d-$$ && echo exists; true"

// TestSeccompErrno: an ERRNO rule fails mkdir with the configured errno,
// in the container's process and in a process exec'd into it, with and
// without no_new_privs (which decides when the init loads the filter).
func TestSeccompErrno(t *testing.T) {
	for _, nnp := range []bool{true, false} {
		t.Run("noNewPrivileges="+strconv.FormatBool(nnp), func(t *testing.T) {
			t.Parallel()
			errno := uint(unix.EL2HLT)
			c := newContainer(t, func(s *specs.Spec) {
				s.Process.NoNewPrivileges = nnp
				s.Linux.Seccomp = mkdirProfile(specs.ActErrno, &errno)
			})
			c.outDir()
			want := "rc=1"
			out := c.runOutput(sh(mkdirScript)...)
			wantContains(t, out, want, "Level 2 halted")

			c.Spec.Process.Args = []string{"sleep", "1000"}
			c.writeSpec()
			if r := c.run("--detach"); r.Code != 0 {
				t.Fatalf("%s", r)
			}
			c.recordInit()
			r := c.mustHull(append([]string{"exec", c.ID}, sh(mkdirScript)...)...)
			wantContains(t, r.Stdout, want, "Level 2 halted")
			c.mustHull("delete", "--force", c.ID)
			c.reap()
		})
	}
}

// TestSeccompNotify: with SCMP_ACT_NOTIFY the agent at listenerPath gets
// the listener fd and the container process state, and its answer is what
// the container's mkdir returns; an exec'd process gets its own listener.
func TestSeccompNotify(t *testing.T) {
	for _, nnp := range []bool{true, false} {
		t.Run("noNewPrivileges="+strconv.FormatBool(nnp), func(t *testing.T) {
			t.Parallel()
			agent := startNotifyAgent(t, unix.EL3HLT)
			c := newContainer(t, func(s *specs.Spec) {
				s.Process.NoNewPrivileges = nnp
				s.Linux.Seccomp = mkdirProfile(specs.ActNotify, nil)
				s.Linux.Seccomp.ListenerPath = agent.path
				s.Linux.Seccomp.ListenerMetadata = "meta-" + strconv.FormatBool(nnp)
			})
			out := c.outDir()
			c.Spec.Process.Args = sh("(" + mkdirScript + ") >/tmp/o; mv /tmp/o /tmp/init.out; exec sleep 1000")
			c.writeSpec()
			c.mustCreate()
			st := agent.next(t)
			created := c.wantStatus("created")
			checkProcessState(t, st, c.ID, created.Pid, created.Pid, "creating", "meta-"+strconv.FormatBool(nnp))
			c.mustHull("start", c.ID)
			wantContains(t, waitFile(t, filepath.Join(out, "init.out"), hullTimeout), "rc=1", "Level 3 halted")

			r := c.mustHull(append([]string{"exec", c.ID}, sh(mkdirScript)...)...)
			wantContains(t, r.Stdout, "rc=1", "Level 3 halted")
			est := agent.next(t)
			if est.Pid == created.Pid || est.Pid <= 0 {
				t.Errorf("exec'd process's listener state has pid %d, want the exec'd process (init is %d)", est.Pid, created.Pid)
			}
			checkProcessState(t, est, c.ID, est.Pid, created.Pid, "running", "meta-"+strconv.FormatBool(nnp))
			if n := agent.answered(); n < 2 {
				t.Errorf("agent answered %d notifications, want at least 2 (init's and exec's mkdir)", n)
			}
			c.mustHull("delete", "--force", c.ID)
			c.reap()
		})
	}
}

func checkProcessState(t *testing.T, st specs.ContainerProcessState, id string, pid, initPid int, status, meta string) {
	t.Helper()
	if len(st.Fds) != 1 || st.Fds[0] != specs.SeccompFdName {
		t.Errorf("fds %q, want [%q]", st.Fds, specs.SeccompFdName)
	}
	if st.Pid != pid || st.State.Pid != initPid {
		t.Errorf("pid %d, state.pid %d; want %d, %d", st.Pid, st.State.Pid, pid, initPid)
	}
	if st.State.ID != id || string(st.State.Status) != status || st.Metadata != meta {
		t.Errorf("state id %q status %q metadata %q; want %q %q %q", st.State.ID, st.State.Status, st.Metadata, id, status, meta)
	}
	if st.Version == "" {
		t.Error("ociVersion empty")
	}
}

// notifyAgent is a seccomp agent: it accepts listeners at path and answers
// every notification with errno.
type notifyAgent struct {
	path   string
	errno  syscall.Errno
	ln     *net.UnixListener
	states chan specs.ContainerProcessState
	done   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	count  int
	errs   []error
}

func startNotifyAgent(t *testing.T, errno syscall.Errno) *notifyAgent {
	t.Helper()
	// Short path: sun_path holds 108 bytes, test temp dirs can be longer.
	dir, err := os.MkdirTemp("", "hull-agent-")
	if err != nil {
		t.Fatal(err)
	}
	a := &notifyAgent{
		path: filepath.Join(dir, "agent.sock"), errno: errno,
		states: make(chan specs.ContainerProcessState, 8), done: make(chan struct{}),
	}
	a.ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: a.path, Net: "unix"})
	if err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	a.wg.Add(1)
	go a.accept()
	t.Cleanup(func() {
		close(a.done)
		a.ln.Close()
		a.wg.Wait()
		os.RemoveAll(dir)
		for _, err := range a.errs {
			t.Errorf("seccomp agent: %v", err)
		}
	})
	return a
}

func (a *notifyAgent) fail(err error) {
	a.mu.Lock()
	a.errs = append(a.errs, err)
	a.mu.Unlock()
}

func (a *notifyAgent) answered() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.count
}

// next waits for the next listener hull sends.
func (a *notifyAgent) next(t *testing.T) specs.ContainerProcessState {
	t.Helper()
	select {
	case st := <-a.states:
		return st
	case <-time.After(hullTimeout):
		t.Fatal("no seccomp listener reached the agent")
		return specs.ContainerProcessState{}
	}
}

func (a *notifyAgent) accept() {
	defer a.wg.Done()
	for {
		conn, err := a.ln.AcceptUnix()
		if err != nil {
			return // closed by cleanup
		}
		st, fd, err := receiveListener(conn)
		conn.Close()
		if err != nil {
			a.fail(err)
			continue
		}
		a.wg.Add(1)
		go a.serve(fd)
		a.states <- st
	}
}

// receiveListener reads the whole state (hull closes the connection after
// it) and the fd that came with its first bytes.
func receiveListener(conn *net.UnixConn) (specs.ContainerProcessState, int, error) {
	var st specs.ContainerProcessState
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4*4))
	var data []byte
	fd := -1
	for {
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		data = append(data, buf[:n]...)
		if oobn > 0 {
			msgs, perr := unix.ParseSocketControlMessage(oob[:oobn])
			if perr != nil || len(msgs) != 1 {
				return st, -1, fmt.Errorf("control message: %v (%d messages)", perr, len(msgs))
			}
			fds, perr := unix.ParseUnixRights(&msgs[0])
			if perr != nil || len(fds) != 1 {
				return st, -1, fmt.Errorf("SCM_RIGHTS: %v (%d fds)", perr, len(fds))
			}
			fd = fds[0]
		}
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			break
		}
		if err != nil {
			return st, fd, err
		}
	}
	if fd < 0 {
		return st, -1, fmt.Errorf("state %q came without an fd", data)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		unix.Close(fd)
		return st, -1, fmt.Errorf("state JSON %q: %w", data, err)
	}
	return st, fd, nil
}

// serve answers notifications on fd until the filter has no process left
// (POLLHUP) or the test ends.
func (a *notifyAgent) serve(fd int) {
	defer a.wg.Done()
	defer unix.Close(fd)
	for {
		select {
		case <-a.done:
			return
		default:
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 100)
		if err != nil || n == 0 {
			continue
		}
		if pfd[0].Revents&unix.POLLIN == 0 {
			return // POLLHUP: every process using the filter is gone
		}
		req, err := libseccomp.NotifReceive(libseccomp.ScmpFd(fd))
		if err != nil {
			continue // the notifying process may have been killed meanwhile
		}
		name, _ := req.Data.Syscall.GetName()
		resp := &libseccomp.ScmpNotifResp{ID: req.ID, Error: int32(a.errno)}
		if err := libseccomp.NotifRespond(libseccomp.ScmpFd(fd), resp); err != nil {
			a.fail(fmt.Errorf("respond to %s from pid %d: %w", name, req.Pid, err))
			continue
		}
		a.mu.Lock()
		a.count++
		a.mu.Unlock()
	}
}

// TestSeccompNotifyNoAgent: create fails, naming the field, when nobody
// listens at listenerPath, and leaves nothing behind (checked on cleanup).
func TestSeccompNotifyNoAgent(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "hull-agent-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c := newContainer(t, func(s *specs.Spec) {
		s.Linux.Seccomp = mkdirProfile(specs.ActNotify, nil)
		s.Linux.Seccomp.ListenerPath = filepath.Join(dir, "nobody.sock")
	})
	r := c.create()
	if r.Code == 0 {
		t.Fatalf("create succeeded without an agent: %s", r)
	}
	wantContains(t, r.Stderr, "linux.seccomp.listenerPath", "nobody.sock")
}
