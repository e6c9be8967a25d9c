package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sigPoweroff is SIGRTMIN+3 (glibc's SIGRTMIN is 34): systemd's request
// to power off, the stop signal of a booted machine.
const sigPoweroff = unix.Signal(37)

// gateScript holds the runtime command until the bench writes a line to
// fd 3, so the clock starts after any set-up of the process (nspawn's
// cgroups) and the same way for every runtime.
const gateScript = `read -r _ <&3 || exit 125; exec 3<&- "$@"`

// bootRun is one boot in progress.
type bootRun struct {
	rt      *runtimeUnderTest
	id, cg  string
	log     string // the runtime's stdout and stderr
	cmd     *exec.Cmd
	gate    *os.File // write end of the gate pipe, nil once released
	notify  *readyListener
	started time.Time     // gate released
	done    chan struct{} // closed when cmd is reaped
	exitErr error         // cmd.Wait's result, valid after done
	exitAt  time.Time
}

// argv is the command that boots the image under rt, through the
// launcher as every runtime command of the bench (crun's cgroup2 fix).
func (e *bootEnv) argv(rt *runtimeUnderTest, id string) []string {
	var argv []string
	if rt.machine {
		// --keep-unit --register=no: run in the cgroups the bench gives
		// it, no machined; --notify-ready=yes: relay the payload's READY=1.
		argv = []string{rt.path, "--keep-unit", "--register=no", "-q", "--console=pipe", "--notify-ready=yes",
			"--uuid=" + e.uuid, "-D", e.rootfs, "-M", bootMachine, "-b"}
	} else {
		argv = []string{rt.path, "--root", rt.root, "run", "--bundle", e.bun.dir, id}
	}
	return append([]string{rt.launcher}, launchArgs("-", 0, rt.hide, argv)...)
}

// launch starts the gated runtime command with the bench's NOTIFY_SOCKET;
// nspawn, not being an OCI runtime, is first moved into cg itself.
func (e *bootEnv) launch(rt *runtimeUnderTest, id, cg string) (*bootRun, error) {
	r := &bootRun{rt: rt, id: id, cg: cg, log: filepath.Join(e.dir, id+".log"), done: make(chan struct{})}
	if !rt.machine {
		if err := e.writeConfig(cg); err != nil {
			return nil, err
		}
	}
	var err error
	if r.notify, err = listenReady(filepath.Join(e.dir, id+".notify")); err != nil {
		return nil, err
	}
	if err := r.start(e.argv(rt, id)); err != nil {
		r.notify.close()
		return nil, err
	}
	if rt.machine {
		if err := joinCgroups(cg, r.cmd.Process.Pid); err != nil {
			r.finish(nil, false)
			return nil, fmt.Errorf("nspawn cgroup %s: %w", cg, err)
		}
	}
	return r, nil
}

func (r *bootRun) start(argv []string) error {
	out, err := os.Create(r.log)
	if err != nil {
		return fmt.Errorf("boot log: %w", err)
	}
	defer out.Close()
	gateR, gateW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("gate pipe: %w", err)
	}
	defer gateR.Close()
	cmd := exec.Command("/bin/sh", append([]string{"-c", gateScript, "sh"}, argv...)...)
	cmd.Env = append(withoutEnv(os.Environ(), "NOTIFY_SOCKET"), "NOTIFY_SOCKET="+r.notify.path)
	cmd.Stdout, cmd.Stderr = out, out // a file: stdin stays /dev/null
	cmd.ExtraFiles = []*os.File{gateR}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		gateW.Close()
		return fmt.Errorf("start %s: %w", argv[0], err)
	}
	r.cmd, r.gate = cmd, gateW
	go func() {
		r.exitErr = cmd.Wait()
		r.exitAt = time.Now()
		close(r.done)
	}()
	return nil
}

// untilReady releases the gate and waits for READY=1.
func (r *bootRun) untilReady(ctx context.Context) (time.Duration, error) {
	r.started = time.Now()
	_, err := r.gate.Write([]byte("go\n"))
	r.gate.Close()
	r.gate = nil
	if err != nil {
		return 0, fmt.Errorf("release gate: %w", err)
	}
	timer := time.NewTimer(bootTimeout)
	defer timer.Stop()
	select {
	case at := <-r.notify.ready:
		return at.Sub(r.started), nil
	case <-r.done:
		return 0, fmt.Errorf("%s exited before READY=1 (%s)%s", r.rt.name, r.exitText(), logTail(r.log))
	case <-timer.C:
		return 0, fmt.Errorf("%s: no READY=1 within %s%s", r.rt.name, bootTimeout, logTail(r.log))
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// shutdown checks the booted state (untimed), then times SIGRTMIN+3 to
// the container's PID 1 until the runtime command exits.
func (r *bootRun) shutdown(ctx context.Context) (time.Duration, error) {
	pid, err := containerInit(r.cg)
	if err != nil {
		return 0, err
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return 0, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(fd)
	if err := checkRunning(ctx, pid); err != nil {
		return 0, fmt.Errorf("%s: %w", r.rt.name, err)
	}
	t0 := time.Now()
	if err := unix.PidfdSendSignal(fd, sigPoweroff, nil, 0); err != nil {
		return 0, fmt.Errorf("SIGRTMIN+3 to container init %d: %w", pid, err)
	}
	timer := time.NewTimer(haltTimeout)
	defer timer.Stop()
	select {
	case <-r.done:
	case <-timer.C:
		return 0, fmt.Errorf("%s did not exit within %s of SIGRTMIN+3%s", r.rt.name, haltTimeout, logTail(r.log))
	}
	if code := exitCode(r.exitErr); code != 0 && code != 130 {
		return 0, fmt.Errorf("%s exit status %s after poweroff, want 0 or 130%s", r.rt.name, r.exitText(), logTail(r.log))
	}
	return r.exitAt.Sub(t0), nil
}

// finish stops whatever is left of the boot: the runtime command's group,
// the container (runtime's forced delete), the cgroup tree. After a clean
// boot only nspawn's cgroup is left, which the bench made itself.
func (r *bootRun) finish(b *bench, ok bool) {
	if r.gate != nil {
		r.gate.Close() // the gate exits instead of starting the runtime
	}
	select {
	case <-r.done:
	default:
		_ = unix.Kill(-r.cmd.Process.Pid, unix.SIGKILL)
	}
	if !ok {
		_ = r.rt.forceDelete(r.id)
	}
	if !ok || r.rt.machine {
		if err := removeCgroupTree(r.cg); err != nil && b != nil {
			fmt.Fprintf(b.log, "warning: %v\n", err)
		}
	}
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		if b != nil {
			fmt.Fprintf(b.log, "warning: %s command %d still running after cleanup\n", r.rt.name, r.cmd.Process.Pid)
		}
	}
	r.notify.close()
}

func (r *bootRun) exitText() string {
	if r.exitErr == nil {
		return "status 0"
	}
	return r.exitErr.Error()
}

// exitCode is the command's exit status, 128+N for a death by signal N.
func exitCode(err error) int {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		if err != nil {
			return -1
		}
		return 0
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}

func withoutEnv(env []string, key string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, key+"=") {
			out = append(out, e)
		}
	}
	return out
}

// logTail is the end of a boot's output, for error messages.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	b = bytes.TrimSpace(b)
	if len(b) > 600 {
		b = append([]byte("..."), b[len(b)-600:]...)
	}
	return "; output: " + strings.ReplaceAll(string(b), "\n", " | ")
}

// readyListener is the NOTIFY_SOCKET a runtime relays systemd's
// notifications to; ready gets the arrival time of the first READY=1.
type readyListener struct {
	conn  *net.UnixConn
	path  string
	ready chan time.Time
	done  chan struct{}
}

func listenReady(path string) (*readyListener, error) {
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("notify socket %s: %w", path, err)
	}
	l := &readyListener{conn: conn, path: path, ready: make(chan time.Time, 1), done: make(chan struct{})}
	go l.loop()
	return l, nil
}

// loop reads until the socket is closed, not just until READY=1: a
// relay may follow up with sd_notify_barrier (crun does), a BARRIER=1
// datagram carrying a pipe it waits on until the receiver closes its end.
func (l *readyListener) loop() {
	defer close(l.done)
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(16*4))
	sent := false
	for {
		n, oobn, _, _, err := l.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			return // closed
		}
		closePassedFds(oob[:oobn])
		if !sent && hasReady(buf[:n]) {
			l.ready <- time.Now()
			sent = true
		}
	}
}

// closePassedFds closes the descriptors an sd_notify datagram carried;
// the bench keeps none (the kernel already closed any that did not fit).
func closePassedFds(oob []byte) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return
	}
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
}

// hasReady reports whether an sd_notify datagram says READY=1.
func hasReady(msg []byte) bool {
	for _, line := range strings.Split(string(msg), "\n") {
		if line == "READY=1" {
			return true
		}
	}
	return false
}

func (l *readyListener) close() {
	l.conn.Close()
	<-l.done
	os.Remove(l.path)
}

// containerInit finds the container's PID 1 among the processes of the
// cgroup tree cg: the one whose innermost pid (NSpid) is 1.
func containerInit(cg string) (int, error) {
	for _, d := range cgroupDirs(cg) {
		raw, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(raw)) {
			status, err := os.ReadFile("/proc/" + f + "/status")
			if err == nil && isNamespaceInit(string(status)) {
				return strconv.Atoi(f)
			}
		}
	}
	return 0, fmt.Errorf("no process with pid 1 in its own pid namespace under cgroup %s", cg)
}

// isNamespaceInit reads a /proc/PID/status: NSpid lists the pid in each
// nested pid namespace, outermost first; a container init ends in 1.
func isNamespaceInit(status string) bool {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(rest)
			return len(f) > 1 && f[len(f)-1] == "1"
		}
	}
	return false
}

// checkRunning asks systemd inside (nsenter, the same for every runtime)
// for the system state: a boot is only counted when it is "running".
func checkRunning(ctx context.Context, pid int) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ns := []string{"-t", strconv.Itoa(pid), "-a"}
	out, err := exec.CommandContext(ctx, "nsenter", append(ns, "systemctl", "is-system-running")...).CombinedOutput()
	state := strings.TrimSpace(string(out))
	if state == "running" {
		return nil
	}
	failed, _ := exec.CommandContext(ctx, "nsenter", append(ns, "systemctl", "list-units", "--failed", "--plain", "--no-legend", "--no-pager")...).CombinedOutput()
	return fmt.Errorf("system state %q after READY=1 (%v), failed units: %s", state, err, strings.TrimSpace(string(failed)))
}
