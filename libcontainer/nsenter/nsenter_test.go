package nsenter

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/wire"
)

// TestMain doubles as the container process: the test re-executes its own
// binary with a Request, the C constructor (linked into this binary too)
// does the namespace work, and the clone lands here and reports.
// The main goroutine keeps the main thread, as hull's main does: a test
// goroutine that unshares its mount namespace on a locked thread must never
// be the main thread, whose namespace /proc/PID/ns/mnt shows (TestHomeMount
// failed now and then under load without this).
func init() { runtime.LockOSThread() }

func TestMain(m *testing.M) {
	if fd := os.Getenv("NSENTER_TEST_SYNC"); fd != "" {
		os.Exit(reportNamespaces(fd))
	}
	os.Exit(m.Run())
}

func reportNamespaces(fd string) int {
	n, _ := strconv.Atoi(fd)
	sock := os.NewFile(uintptr(n), "sync")
	var report []string
	for _, ns := range []string{"pid", "uts", "net", "mnt"} {
		link, _ := os.Readlink("/proc/self/ns/" + ns)
		report = append(report, ns+"="+link)
	}
	host, _ := os.Hostname()
	report = append(report, fmt.Sprintf("getpid=%d", os.Getpid()), "hostname="+host)
	if err := wire.Write(sock, 'T', []byte(strings.Join(report, "\n"))); err != nil {
		return 1
	}
	return 0
}

// startStage runs the C stage on req in a re-executed test binary and
// returns the container process's pid and report.
func startStage(t *testing.T, req *Request, mapIDs func(int) error) (int, map[string]string) {
	t.Helper()
	return startStageWith(t, req, mapIDs, func(cmd *exec.Cmd) error { return cmd.Start() })
}

// startStageWith is startStage with start doing the fork (from a thread of
// its choosing).
func startStageWith(t *testing.T, req *Request, mapIDs func(int) error, start func(*exec.Cmd) error) (int, map[string]string) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	parent, child := os.NewFile(uintptr(fds[0]), "p"), os.NewFile(uintptr(fds[1]), "c")
	defer parent.Close()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(req.Env(3), "NSENTER_TEST_SYNC=3")
	cmd.ExtraFiles = []*os.File{child}
	if err := start(cmd); err != nil {
		t.Fatal(err)
	}
	child.Close()
	pid, err := Handshake(parent, cmd.Process.Pid, mapIDs)
	cmd.Wait()
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	t.Cleanup(func() {
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil) // it is our child: CLONE_PARENT
	})
	typ, payload, err := wire.Read(parent)
	if err != nil || typ != 'T' {
		t.Fatalf("report: %q %v", typ, err)
	}
	report := map[string]string{}
	for _, line := range strings.Split(string(payload), "\n") {
		k, v, _ := strings.Cut(line, "=")
		report[k] = v
	}
	return pid, report
}

func requireRoot(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: creates namespaces")
	}
}

func TestNewNamespaces(t *testing.T) {
	requireRoot(t)
	pid, got := startStage(t, &Request{Unshare: unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWNET}, nil)
	for _, ns := range []string{"pid", "uts", "net"} {
		mine, _ := os.Readlink("/proc/self/ns/" + ns)
		if got[ns] == mine {
			t.Errorf("%s namespace %s is the test's own", ns, got[ns])
		}
	}
	if got["getpid"] != "1" {
		t.Errorf("container process is pid %s in its pid namespace, want 1", got["getpid"])
	}
	if pid <= 1 {
		t.Errorf("host pid %d", pid)
	}
}

// TestJoinByPath joins the uts namespace of another process by path.
func TestJoinByPath(t *testing.T) {
	requireRoot(t)
	holder := exec.Command("unshare", "--uts", "sh", "-c", "hostname nsenter-test; sleep 30")
	if err := holder.Start(); err != nil {
		t.Skipf("unshare(1): %v", err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	path := fmt.Sprintf("/proc/%d/ns/uts", holder.Process.Pid)
	want := ""
	for i := 0; i < 100 && want != "nsenter-test"; i++ {
		out, _ := exec.Command("nsenter", "--uts="+path, "hostname").Output()
		want = string(bytes.TrimSpace(out))
	}
	_, got := startStage(t, &Request{Joins: []Join{{Type: specs.UTSNamespace, Path: path}}}, nil)
	target, _ := os.Readlink(path)
	if got["uts"] != target || got["hostname"] != "nsenter-test" {
		t.Errorf("joined uts %s hostname %q, want %s and nsenter-test", got["uts"], got["hostname"], target)
	}
}

// TestHomeMount starts the C stage from a thread in a private mount
// namespace, as exeseal does: with HomeMount it returns to the caller's
// namespace before anything else (so a new mount namespace is a copy of the
// host's, in its peer groups); without, it stays in the private one.
func TestHomeMount(t *testing.T) {
	requireRoot(t)
	mine, _ := os.Readlink("/proc/self/ns/mnt")
	fromPrivate := func(cmd *exec.Cmd) error {
		errc := make(chan error, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
				errc <- err
				return
			}
			errc <- cmd.Start()
		}()
		return <-errc
	}
	home := fmt.Sprintf("/proc/%d/ns/mnt", os.Getpid())
	for _, tc := range []struct {
		home     string
		wantHome bool
	}{{home, true}, {"", false}} {
		_, got := startStageWith(t, &Request{HomeMount: tc.home}, nil, fromPrivate)
		if (got["mnt"] == mine) != tc.wantHome {
			t.Errorf("HomeMount %q: mount namespace %s, the test's is %s", tc.home, got["mnt"], mine)
		}
	}
}

func TestUserNamespaceMaps(t *testing.T) {
	requireRoot(t)
	asked := 0
	mapIDs := func(pid int) error {
		asked++
		for _, f := range []string{"uid_map", "gid_map"} {
			if err := os.WriteFile(fmt.Sprintf("/proc/%d/%s", pid, f), []byte("0 100000 65536\n"), 0); err != nil {
				return err
			}
		}
		return nil
	}
	pid, _ := startStage(t, &Request{Unshare: unix.CLONE_NEWUSER | unix.CLONE_NEWUTS}, mapIDs)
	if asked != 1 {
		t.Fatalf("id maps asked for %d times, want once", asked)
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", pid))
	if err != nil || !strings.Contains(string(data), "100000") {
		t.Errorf("uid_map of the container process: %q %v", data, err)
	}
}

func TestErrorsReachTheParent(t *testing.T) {
	requireRoot(t)
	fds, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	parent, child := os.NewFile(uintptr(fds[0]), "p"), os.NewFile(uintptr(fds[1]), "c")
	defer parent.Close()
	req := &Request{Joins: []Join{{Type: specs.NetworkNamespace, Path: "/no/such/ns"}}}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(req.Env(3), "NSENTER_TEST_SYNC=3")
	cmd.ExtraFiles = []*os.File{child}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child.Close()
	_, err := Handshake(parent, cmd.Process.Pid, nil)
	cmd.Wait()
	if err == nil || !strings.Contains(err.Error(), "/no/such/ns") {
		t.Fatalf("handshake error %v, want one naming /no/such/ns", err)
	}
}

func TestEnv(t *testing.T) {
	req := &Request{
		HomeMount:   "/proc/8/ns/mnt",
		Joins:       []Join{{Type: specs.NetworkNamespace, Path: "/run/netns/x"}, {Type: specs.UserNamespace, Path: "/proc/9/ns/user"}},
		Unshare:     unix.CLONE_NEWNS | unix.CLONE_NEWTIME,
		TimeOffsets: map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 5}, "boottime": {Secs: 1, Nanosecs: 2}},
	}
	got := strings.Join(req.Env(7), "|")
	for _, want := range []string{
		"_HULL_NSENTER=7",
		"_HULL_MNTNS=/proc/8/ns/mnt",
		"_HULL_JOIN=net:/run/netns/x\nuser:/proc/9/ns/user",
		"_HULL_UNSHARE=" + strconv.Itoa(unix.CLONE_NEWNS|unix.CLONE_NEWTIME),
		"_HULL_TIMENS=boottime 1 2\nmonotonic 5 0\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("env %q lacks %q", got, want)
		}
	}
}

func TestFromSpec(t *testing.T) {
	joins, flags := FromSpec([]specs.LinuxNamespace{
		{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace, Path: "/run/netns/n"}, {Type: specs.CgroupNamespace},
	})
	if flags != unix.CLONE_NEWPID|unix.CLONE_NEWCGROUP {
		t.Errorf("flags %#x", flags)
	}
	if len(joins) != 1 || joins[0].Path != "/run/netns/n" {
		t.Errorf("joins %+v", joins)
	}
}

func TestFraming(t *testing.T) {
	var b bytes.Buffer
	for _, m := range []string{"", "x", strings.Repeat("y", 70000)} {
		if err := wire.Write(&b, 'C', []byte(m)); err != nil {
			t.Fatal(err)
		}
		typ, got, err := wire.Read(&b)
		if err != nil || typ != 'C' || string(got) != m {
			t.Fatalf("round trip of %d bytes: %q %d %v", len(m), typ, len(got), err)
		}
	}
	if _, _, err := wire.Read(&b); err == nil {
		t.Fatal("read from an empty stream succeeded")
	}
}
