package seccomp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// The functions below run only inside re-executed children (see TestMain):
// they load a filter on themselves and report what the kernel answered.

func compileAndLoad(c *specs.LinuxSeccomp) (int, error) {
	if os.Geteuid() != 0 {
		// Without CAP_SYS_ADMIN the kernel only takes filters under
		// no_new_privs; root runs exercise the capability path instead.
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return -1, err
		}
	}
	f, err := Compile(c)
	if err != nil {
		return -1, err
	}
	defer f.Release()
	return f.Load()
}

func errnoOf(_, _ uintptr, e unix.Errno) int64 { return int64(e) }

func cstr(s string) uintptr {
	p, err := unix.BytePtrFromString(s)
	if err != nil {
		panic(err)
	}
	return uintptr(unsafe.Pointer(p))
}

func rule(name string, act specs.LinuxSeccompAction, ret *uint, args ...specs.LinuxSeccompArg) specs.LinuxSyscall {
	return specs.LinuxSyscall{Names: []string{name}, Action: act, ErrnoRet: ret, Args: args}
}

func allowAllBut(rules ...specs.LinuxSyscall) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: rules}
}

func childErrno() (childResult, error) {
	ready, do, other := make(chan struct{}), make(chan struct{}), make(chan int64)
	go func() {
		runtime.LockOSThread() // keep a thread that predates Load busy
		close(ready)
		<-do
		other <- errnoOf(unix.Syscall(unix.SYS_MKDIR, cstr("t1"), 0o755, 0))
	}()
	<-ready
	fd, err := compileAndLoad(allowAllBut(
		rule("mkdir", specs.ActErrno, uptr(uint(unix.EACCES))),
		rule("getcwd", specs.ActErrno, uptr(uint(unix.ENOMSG))),
	))
	if err != nil {
		return nil, err
	}
	close(do)
	buf := make([]byte, 4096)
	return childResult{
		"listener_fd":        int64(fd),
		"mkdir":              errnoOf(unix.Syscall(unix.SYS_MKDIR, cstr("d1"), 0o755, 0)),
		"mkdirat":            errnoOf(unix.Syscall(unix.SYS_MKDIRAT, atFdcwd(), cstr("d2"), 0o755)),
		"getcwd":             errnoOf(unix.Syscall(unix.SYS_GETCWD, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0)),
		"mkdir_other_thread": <-other,
	}, nil
}

func childKillProcess() (childResult, error) {
	// SIGSYS dumps core by default; keep the test's temp dir clean.
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return nil, err
	}
	if _, err := compileAndLoad(allowAllBut(rule("getppid", specs.ActKillProcess, nil))); err != nil {
		return nil, err
	}
	return childResult{"ppid": int64(unix.Getppid())}, nil
}

func childKillThread() (childResult, error) {
	if _, err := compileAndLoad(allowAllBut(rule("getppid", specs.ActKill, nil))); err != nil {
		return nil, err
	}
	returned := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		unix.Getppid()
		close(returned)
	}()
	select {
	case <-returned:
		return childResult{"thread_returned": 1, "process_alive": 1}, nil
	case <-time.After(500 * time.Millisecond):
		return childResult{"thread_returned": 0, "process_alive": 1}, nil
	}
}

func childTrap() (childResult, error) {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return nil, err
	}
	if _, err := compileAndLoad(allowAllBut(rule("getppid", specs.ActTrap, nil))); err != nil {
		return nil, err
	}
	return childResult{"ppid": int64(unix.Getppid())}, nil
}

func childArgs() (childResult, error) {
	_, err := compileAndLoad(allowAllBut(
		rule("getpgid", specs.ActErrno, uptr(uint(unix.EDOM)),
			specs.LinuxSeccompArg{Index: 0, Value: 1, Op: specs.OpEqualTo},
			specs.LinuxSeccompArg{Index: 0, Value: 2, Op: specs.OpEqualTo}),
		rule("getsid", specs.ActErrno, uptr(uint(unix.EXDEV)),
			specs.LinuxSeccompArg{Index: 0, Value: 0xff, ValueTwo: 0x13, Op: specs.OpMaskedEqual}),
		rule("getpriority", specs.ActErrno, uptr(uint(unix.ENOTBLK)),
			specs.LinuxSeccompArg{Index: 0, Value: unix.PRIO_PROCESS, Op: specs.OpEqualTo},
			specs.LinuxSeccompArg{Index: 1, Value: 1, Op: specs.OpGreaterThan}),
	))
	if err != nil {
		return nil, err
	}
	call := func(nr, a0, a1 uintptr) int64 { return errnoOf(unix.Syscall(nr, a0, a1, 0)) }
	return childResult{
		"getpgid_self":     call(unix.SYS_GETPGID, 0, 0),
		"getpgid_1":        call(unix.SYS_GETPGID, 1, 0),
		"getpgid_2":        call(unix.SYS_GETPGID, 2, 0),
		"getsid_0x13":      call(unix.SYS_GETSID, 0x13, 0),
		"getsid_0x113":     call(unix.SYS_GETSID, 0x113, 0),
		"getsid_0":         call(unix.SYS_GETSID, 0, 0),
		"getprio_0_5":      call(unix.SYS_GETPRIORITY, unix.PRIO_PROCESS, 5),
		"getprio_0_0":      call(unix.SYS_GETPRIORITY, unix.PRIO_PROCESS, 0),
		"getprio_pgrp_big": call(unix.SYS_GETPRIORITY, unix.PRIO_PGRP, 0x3ffffff0),
	}, nil
}

func childLog() (childResult, error) {
	before := unix.Getppid()
	c := allowAllBut(rule("getppid", specs.ActLog, nil))
	c.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}
	if _, err := compileAndLoad(c); err != nil {
		return nil, err
	}
	return childResult{"ppid_before": int64(before), "ppid_after": int64(unix.Getppid())}, nil
}

// answerOne serves a single notification on fd with val and reports
// whether it was for getppid.
func answerOne(fd int, val uint64) (bool, error) {
	req, err := libseccomp.NotifReceive(libseccomp.ScmpFd(fd))
	if err != nil {
		return false, fmt.Errorf("NotifReceive: %w", err)
	}
	name, _ := req.Data.Syscall.GetNameByArch(req.Data.Arch)
	resp := &libseccomp.ScmpNotifResp{ID: req.ID, Val: val}
	if err := libseccomp.NotifRespond(libseccomp.ScmpFd(fd), resp); err != nil {
		return false, fmt.Errorf("NotifRespond: %w", err)
	}
	return name == "getppid", nil
}

func notifyProfile(listener string) *specs.LinuxSeccomp {
	c := allowAllBut(rule("getppid", specs.ActNotify, nil))
	c.ListenerPath = listener
	c.ListenerMetadata = "hull-test-meta"
	c.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}
	return c
}

func childNotifySelf() (childResult, error) {
	fd, err := compileAndLoad(notifyProfile("/unused/agent.sock"))
	if err != nil {
		return nil, err
	}
	if fd < 0 {
		return childResult{"listener_fd": int64(fd)}, nil
	}
	type answer struct {
		ok  bool
		err error
	}
	done := make(chan answer, 1)
	go func() {
		ok, err := answerOne(fd, notifyAnswer)
		done <- answer{ok, err}
	}()
	// Not unix.Getppid: that is a raw system call, which keeps its P while
	// it blocks in the notification, so the goroutine answering it may
	// never run (one P, or a stop-the-world waiting for this one): the
	// test hung once in make test.
	ppid, _, _ := unix.Syscall(unix.SYS_GETPPID, 0, 0, 0)
	got := int(ppid)
	a := <-done
	if a.err != nil {
		return nil, a.err
	}
	return childResult{"listener_fd": int64(fd), "getppid": int64(got), "notified_syscall_is_getppid": b2i(a.ok)}, nil
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func childNotifyAgent() (childResult, error) {
	c := notifyProfile(os.Getenv(listenerEnv))
	fd, err := compileAndLoad(c)
	if err != nil {
		return nil, err
	}
	st := specs.State{Version: specs.Version, ID: "ctr1", Status: specs.StateRunning, Pid: os.Getpid(), Bundle: "/bundle"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := SendListener(ctx, c.ListenerPath, c.ListenerMetadata, os.Getpid(), st, fd); err != nil {
		return nil, err
	}
	if err := unix.Close(fd); err != nil { // the agent's copy keeps the listener alive
		return nil, err
	}
	return childResult{"getppid": int64(unix.Getppid())}, nil
}

func readProfile() (*specs.LinuxSeccomp, error) {
	b, err := os.ReadFile(os.Getenv(profileEnv))
	if err != nil {
		return nil, err
	}
	var c specs.LinuxSeccomp
	return &c, json.Unmarshal(b, &c)
}

func childDefaultProfile() (childResult, error) {
	c, err := readProfile()
	if err != nil {
		return nil, err
	}
	if _, err := compileAndLoad(c); err != nil {
		return nil, err
	}
	res := childResult{"exec_true": 0}
	if err := exec.Command("/bin/true").Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return nil, fmt.Errorf("exec /bin/true under the profile: %w", err)
		}
		res["exec_true"] = int64(ee.ExitCode())
	}
	sock := func(family int) int64 {
		fd, err := unix.Socket(family, unix.SOCK_STREAM, 0)
		if err == nil {
			unix.Close(fd)
		}
		return errnoOrZero(err)
	}
	res["mkdirat"] = errnoOrZero(unix.Mkdirat(unix.AT_FDCWD, "d", 0o755))
	res["acct"] = errnoOf(unix.Syscall(unix.SYS_ACCT, 0, 0, 0))
	res["clone3"] = errnoOf(unix.Syscall(unix.SYS_CLONE3, 0, 0, 0))
	res["socket_unix"] = sock(unix.AF_UNIX)
	res["socket_vsock"] = sock(unix.AF_VSOCK)
	res["personality_get"] = errnoOf(unix.Syscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0))
	res["personality_norn"] = errnoOf(unix.Syscall(unix.SYS_PERSONALITY, addrNoRandomize, 0, 0))
	res["unshare"] = errnoOf(unix.Syscall(unix.SYS_UNSHARE, unix.CLONE_NEWUTS, 0, 0))
	return res, nil
}

func errnoOrZero(err error) int64 {
	var e unix.Errno
	if errors.As(err, &e) {
		return int64(e)
	}
	if err != nil {
		return -1
	}
	return 0
}

// childBenchBPF times what the init does when the parent compiled: decode
// the shipped program and call seccomp(2).
func childBenchBPF() (childResult, error) {
	b, err := os.ReadFile(os.Getenv(profileEnv))
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	var f Filter
	if err := f.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	t1 := time.Now()
	if _, err := f.Load(); err != nil {
		return nil, err
	}
	t2 := time.Now()
	return childResult{"unmarshal_ns": int64(t1.Sub(t0)), "load_ns": int64(t2.Sub(t1))}, nil
}

// childBenchLibseccomp times the alternative: build the libseccomp context
// in the init and let seccomp_load generate and load the program.
func childBenchLibseccomp() (childResult, error) {
	c, err := readProfile()
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	sf, _, err := build(c)
	if err != nil {
		return nil, err
	}
	defer sf.Release()
	if err := sf.SetNoNewPrivsBit(false); err != nil {
		return nil, err
	}
	t1 := time.Now()
	if err := sf.Load(); err != nil {
		return nil, err
	}
	t2 := time.Now()
	return childResult{"build_ns": int64(t1.Sub(t0)), "load_ns": int64(t2.Sub(t1))}, nil
}

func atFdcwd() uintptr {
	fd := unix.AT_FDCWD // a negative constant cannot convert to uintptr directly
	return uintptr(fd)
}

// addrNoRandomize is ADDR_NO_RANDOMIZE from <sys/personality.h>.
const addrNoRandomize = 0x0040000
