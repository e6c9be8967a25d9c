package nsenter

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/wire"
)

// goDump formats p as hull_dump_process does.
func goDump(p *wire.Process) string {
	var b strings.Builder
	fmt.Fprintf(&b, "flags=%d uid=%d gid=%d umask=%o groups=", p.Flags, p.UID, p.GID, p.Umask)
	for _, g := range p.Groups {
		fmt.Fprintf(&b, "%d,", g)
	}
	b.WriteString(" caps=")
	for _, c := range p.Caps {
		fmt.Fprintf(&b, "%x,", c)
	}
	fmt.Fprintf(&b, " lastcap=%d rlimits=", p.LastCap)
	for _, r := range p.Rlimits {
		fmt.Fprintf(&b, "%d:%d:%d,", r.Resource, r.Soft, r.Hard)
	}
	fmt.Fprintf(&b, " ioprio=%d personality=%d preserve=%d fifo=%d console=%d seccomp=%d/%d:%x",
		p.IOPrio, p.Personality, p.PreserveFDs, p.FifoFD, p.ConsoleFD, p.SeccompFlags, len(p.Seccomp)/8, p.Seccomp)
	fmt.Fprintf(&b, " program=%s cwd=%s keyring=%s args=", p.Program, p.Cwd, p.Keyring)
	for _, a := range p.Args {
		fmt.Fprintf(&b, "[%s]", a)
	}
	b.WriteString(" env=")
	for _, e := range p.Env {
		fmt.Fprintf(&b, "[%s]", e)
	}
	return b.String()
}

var allowAll = []byte{0x06, 0, 0, 0, 0, 0, 0xff, 0x7f} // BPF_RET|BPF_K SECCOMP_RET_ALLOW

func sampleProcess() *wire.Process {
	return &wire.Process{
		Flags: wire.FlagNoNewPrivs, UID: 1000, GID: 100, Umask: 0o027, Groups: []uint32{100, 10, 4294967294},
		Caps: [wire.NumCapSets]uint64{1<<40 | 5, 5, 0, 5, 4}, LastCap: 40,
		Rlimits: []wire.Rlimit{{Resource: 7, Soft: 1024, Hard: 4096}, {Resource: 4, Soft: ^uint64(0), Hard: ^uint64(0)}},
		IOPrio:  2<<13 | 4, Personality: 8, PreserveFDs: 2, FifoFD: -1, ConsoleFD: 6,
		SeccompFlags: 1, Seccomp: bytes.Repeat(allowAll, 3),
		Program: "/usr/bin/env", Cwd: "/tmp/a dir", Keyring: "_ses.c1",
		Args: []string{"env", "", "ünï"}, Env: []string{"PATH=/bin", "HOME=/root"},
	}
}

// TestDecodeInC: what the Go encoder writes, the C decoder reads field for
// field; every cut or corruption of it is refused, none crashes.
func TestDecodeInC(t *testing.T) {
	minimal := &wire.Process{IOPrio: -1, Personality: -1, FifoFD: -1, ConsoleFD: -1, Program: "/t", Cwd: "/", Args: []string{"t"}}
	for _, p := range []*wire.Process{sampleProcess(), minimal} {
		b, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeInC(b)
		if err != nil {
			t.Fatal(err)
		}
		if want := goDump(p); got != want {
			t.Errorf("C decoded\n %s\nGo encoded\n %s", got, want)
		}
		for i := 0; i < len(b); i++ {
			if _, err := decodeInC(b[:i]); err == nil {
				t.Fatalf("C decoder accepted the first %d of %d bytes", i, len(b))
			}
		}
		if _, err := decodeInC(append(b, 0)); err == nil || !strings.Contains(err.Error(), "after the message") {
			t.Errorf("trailing byte: %v", err)
		}
	}
	b, _ := sampleProcess().Encode()
	bad := bytes.Replace(b, []byte("/usr/bin/env"), []byte("/usr/b\x00n/env"), 1)
	if _, err := decodeInC(bad); err == nil {
		t.Error("C decoder accepted a NUL inside a string")
	}
	b[0] ^= 0xff
	if _, err := decodeInC(b); err == nil || !strings.Contains(err.Error(), "magic") {
		t.Errorf("bad magic: %v", err)
	}
}

// finish runs the C stage with the finisher on p and returns the parent's
// answer ('R' or the 'E' text) and what the exec'd program wrote.
func finish(t *testing.T, req *Request, p *wire.Process) (byte, string, string) {
	t.Helper()
	return finishWith(t, req, p, nil, nil)
}

// finishWith is finish with extra fds (from 3 on, the sync socket after
// them) and afterReady run once the finisher reported ready.
func finishWith(t *testing.T, req *Request, p *wire.Process, extra []*os.File, afterReady func(pid int)) (byte, string, string) {
	t.Helper()
	return finishFrom(t, os.Args[0], req, p, extra, afterReady)
}

// finishFrom is finishWith with the C stage started from bin: this test
// binary (its constructor) or hull-stage.
func finishFrom(t *testing.T, bin string, req *Request, p *wire.Process, extra []*os.File, afterReady func(pid int)) (byte, string, string) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	parent, child := os.NewFile(uintptr(fds[0]), "p"), os.NewFile(uintptr(fds[1]), "c")
	defer parent.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer outR.Close()
	if req.Finish == NoFinish {
		req.Finish = FinishExec
	}
	cmd := exec.Command(bin)
	cmd.Env = req.Env(3 + len(extra))
	cmd.ExtraFiles = append(extra, child)
	cmd.Stdout, cmd.Stderr = outW, outW
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child.Close()
	outW.Close()
	pid, err := Handshake(parent, cmd.Process.Pid, nil)
	cmd.Wait()
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer func() {
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil) // our child: CLONE_PARENT
	}()
	if req.Finish != FinishExec {
		initHandshake(t, parent)
	}
	msg, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := wire.Write(parent, wire.MsgProcess, msg); err != nil {
		t.Fatal(err)
	}
	typ, payload, err := wire.Read(parent)
	if err != nil {
		t.Fatalf("finisher's answer: %v", err)
	}
	if afterReady != nil && typ == wire.MsgReady {
		afterReady(pid)
	}
	out, _ := io.ReadAll(outR)
	return typ, string(payload), string(out)
}

// initHandshake is the parent's side of the finisher as init before its
// process message: placed ('G'), asked for the rootfs ('B'), built ('b').
func initHandshake(t *testing.T, parent *os.File) {
	t.Helper()
	if err := wire.Write(parent, wire.MsgPlaced, nil); err != nil {
		t.Fatal(err)
	}
	typ, payload, err := wire.Read(parent)
	if err != nil || typ != wire.MsgBuildRootfs {
		t.Fatalf("finisher as init sent %q %q (%v), want 'B'", typ, payload, err)
	}
	if err := wire.WriteFds(parent, wire.MsgRootfsBuilt, nil); err != nil {
		t.Fatal(err)
	}
}

// TestFinisherAsInit: as a container's init the finisher waits for its
// placement, makes its cgroup namespace before it asks for its rootfs,
// then finishes the process as for exec.
func TestFinisherAsInit(t *testing.T) {
	requireRoot(t)
	host, err := os.Readlink("/proc/self/ns/cgroup")
	if err != nil {
		t.Skipf("no cgroup namespaces: %v", err)
	}
	p := shellProcess("/", "readlink /proc/self/ns/cgroup; cut -d: -f3 /proc/self/cgroup | sort -u")
	for _, mode := range []Finish{FinishInit, FinishInitCgroupNS} {
		typ, msg, out := finish(t, &Request{Unshare: unix.CLONE_NEWPID, Finish: mode}, p)
		if typ != wire.MsgReady {
			t.Fatalf("finisher (mode %d) answered %q %q", mode, typ, msg)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		newNS := lines[0] != host
		if newNS != (mode == FinishInitCgroupNS) {
			t.Errorf("mode %d: cgroup namespace %s (host %s)", mode, lines[0], host)
		}
		if mode == FinishInitCgroupNS && (len(lines) != 2 || lines[1] != "/") {
			t.Errorf("in its own cgroup namespace the process's cgroups should read /: %q", lines[1:])
		}
	}
}

// ownCaps is the test's permitted set: root here may lack some.
func ownCaps() uint64 {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	unix.Capget(&hdr, &data[0])
	return uint64(data[1].Permitted)<<32 | uint64(data[0].Permitted)
}

func lastCap() uint32 {
	data, _ := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return uint32(n)
}

func shellProcess(cwd, script string) *wire.Process {
	all := ownCaps()
	return &wire.Process{
		IOPrio: -1, Personality: -1, FifoFD: -1, ConsoleFD: -1, Umask: 0o022,
		Caps: [wire.NumCapSets]uint64{all, all, 0, all, 0}, LastCap: lastCap(),
		Groups: []uint32{0}, Program: "/bin/sh", Cwd: cwd, Args: []string{"sh", "-c", script},
		Env: []string{"PATH=/usr/bin:/bin"},
	}
}

// TestFinisher: the finisher applies user, groups, capabilities, rlimits,
// umask, cwd, env, no_new_privs and seccomp, then execs; the exec'd program
// reads them back from the kernel.
func TestFinisher(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	p := shellProcess(dir, `grep -E '^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; ulimit -n; umask; pwd; echo "FOO=$FOO"`)
	p.Flags = wire.FlagNoNewPrivs
	p.UID, p.GID, p.Groups = 1000, 1001, []uint32{1001, 2000}
	const kill = 1 << 5 // CAP_KILL
	p.Caps = [wire.NumCapSets]uint64{kill | 1, kill, kill, kill, kill}
	p.LastCap = lastCap()
	p.Rlimits = []wire.Rlimit{{Resource: unix.RLIMIT_NOFILE, Soft: 321, Hard: 654}}
	p.Umask = 0o027
	p.Env = append(p.Env, "FOO=bar baz")
	p.Seccomp = allowAll
	typ, msg, out := finish(t, &Request{Unshare: unix.CLONE_NEWPID}, p)
	if typ != wire.MsgReady {
		t.Fatalf("finisher answered %q %q", typ, msg)
	}
	for _, want := range []string{
		"Uid:\t1000\t1000\t1000\t1000", "Gid:\t1001\t1001\t1001\t1001", "Groups:\t1001 2000",
		"CapInh:\t0000000000000020", "CapPrm:\t0000000000000020", "CapEff:\t0000000000000020",
		"CapBnd:\t0000000000000021", "CapAmb:\t0000000000000020", "NoNewPrivs:\t1", "Seccomp:\t2",
		"\n321\n", "\n0027\n", "\n" + dir + "\n", "FOO=bar baz",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exec'd program's view lacks %q:\n%s", want, out)
		}
	}
}

// TestFinisherErrors: a failing step is reported to the parent by name,
// as the Go init names it.
func TestFinisherErrors(t *testing.T) {
	requireRoot(t)
	cases := []struct {
		name, want string
		edit       func(*wire.Process)
	}{
		{"cwd", `check working directory: process.cwd "/nonexistent-hull": no such file or directory`, func(p *wire.Process) { p.Cwd = "/nonexistent-hull" }},
		{"program", `find program: process.args[0] "sh": not executable: permission denied`, func(p *wire.Process) {
			p.UID, p.GID, p.Caps = 1000, 1000, [wire.NumCapSets]uint64{}
		}},
		{"rlimit", "set process attributes: set rlimit RLIMIT_NOFILE soft=10 hard=5: invalid argument", func(p *wire.Process) {
			p.Rlimits = []wire.Rlimit{{Resource: unix.RLIMIT_NOFILE, Soft: 10, Hard: 5}}
		}},
	}
	dir, err := os.MkdirTemp("", "hull-finish-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	notExec := filepath.Join(dir, "data")
	os.WriteFile(notExec, nil, 0o644)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := shellProcess("/", "true")
			if c.name == "program" {
				p.Program = notExec
			}
			c.edit(p)
			typ, msg, _ := finish(t, &Request{}, p)
			if typ != wire.MsgError || msg != c.want {
				t.Fatalf("finisher answered %q %q, want %q", typ, msg, c.want)
			}
		})
	}
}

// TestBornInCgroup: the C stage joins a v1 hierarchy through its tasks
// file and clones into a cgroup2 directory, so the process is born in
// both; it reads /proc/self/cgroup after exec.
func TestBornInCgroup(t *testing.T) {
	requireRoot(t)
	name := fmt.Sprintf("hull-nsenter-test-%d", os.Getpid())
	v1 := filepath.Join("/sys/fs/cgroup/pids", name)
	v2 := filepath.Join("/sys/fs/cgroup/unified", name)
	for _, d := range []string{v1, v2} {
		var fs unix.Statfs_t
		if unix.Statfs(filepath.Dir(d), &fs) != nil {
			t.Skipf("no cgroup hierarchy at %s", filepath.Dir(d))
		}
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(d) })
	}
	req := &Request{TasksFiles: []string{filepath.Join(v1, "tasks")}, CgroupDir: v2}
	typ, msg, out := finish(t, req, shellProcess("/", "cat /proc/self/cgroup"))
	if typ != wire.MsgReady {
		t.Fatalf("finisher answered %q %q", typ, msg)
	}
	for _, want := range []string{"pids:/" + name + "\n", "0::/" + name + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("/proc/self/cgroup lacks %q:\n%s", want, out)
		}
	}
}

// TestFinisherWaitsForStart: with an exec fifo the finisher reports ready,
// then runs nothing until a byte arrives on it (hull start).
func TestFinisherWaitsForStart(t *testing.T) {
	requireRoot(t)
	fifoR, fifoW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer fifoW.Close()
	stamp := filepath.Join(t.TempDir(), "ran")
	p := shellProcess("/", "touch "+stamp)
	p.FifoFD = 3
	typ, msg, _ := finishWith(t, &Request{}, p, []*os.File{fifoR}, func(int) {
		fifoR.Close()
		time.Sleep(200 * time.Millisecond)
		if _, err := os.Stat(stamp); err == nil {
			t.Error("the program ran before start")
		}
		fifoW.Write([]byte{0})
	})
	if typ != wire.MsgReady {
		t.Fatalf("finisher answered %q %q", typ, msg)
	}
	if _, err := os.Stat(stamp); err != nil {
		t.Errorf("the program did not run after start: %v", err)
	}
}

// TestFinisherHoldsFifoUntilExec: `hull start` returns when the exec fifo
// loses its last reader, and that must mean the program is executed. So the
// finisher keeps its end open, close-on-exec, through the seccomp load to the
// execve: by the time the writer sees no reader, the process's executable is
// already the program (the kernel switches it before it closes those fds).
func TestFinisherHoldsFifoUntilExec(t *testing.T) {
	requireRoot(t)
	program, err := filepath.EvalSymlinks("/bin/sleep")
	if err != nil {
		t.Skipf("no /bin/sleep: %v", err)
	}
	for round := 0; round < 5; round++ {
		fifoR, fifoW, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		p := shellProcess("/", "")
		p.Program, p.Args = "/bin/sleep", []string{"sleep", "60"}
		p.FifoFD = 3
		p.Seccomp = bytes.Repeat(allowAll, 64)
		var exe string
		typ, msg, _ := finishWith(t, &Request{}, p, []*os.File{fifoR}, func(pid int) {
			fifoR.Close()
			fifoW.Write([]byte{0})
			fds := []unix.PollFd{{Fd: int32(fifoW.Fd())}}
			for {
				if _, err := unix.Poll(fds, -1); err == nil || err != unix.EINTR {
					break
				}
			}
			exe, err = os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
			unix.Kill(pid, unix.SIGKILL)
		})
		fifoW.Close()
		if typ != wire.MsgReady {
			t.Fatalf("finisher answered %q %q", typ, msg)
		}
		if exe != program {
			t.Errorf("round %d: when the fifo lost its reader the process ran %q (%v), want the program %s", round, exe, err, program)
		}
	}
}
