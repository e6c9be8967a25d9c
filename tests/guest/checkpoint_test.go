package guest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// counterScript counts in the shell's memory, five times a second, into
// /count and to stdout: a restored process goes on from the count it had,
// where a fresh start would begin at 1 again.
const counterScript = `i=0; while :; do i=$((i+1)); echo $i > /count; echo tick $i; sleep 0.2; done`

// TestCheckpointRestore: a running container is checkpointed with criu
// (it is then gone, its cgroup too) and restored from the image, as
// engines do it (detached, new stdio pipes, a pid file): its process goes
// on counting from memory in the same cgroup with its limit, writes to the
// new stdout, its bind mount is there, exec joins it; a checkpoint with
// --leave-running keeps it running. hull with each cgroup driver, runc as
// the control.
func TestCheckpointRestore(t *testing.T) {
	inGuest(t)
	if _, err := exec.LookPath("criu"); err != nil {
		t.Fatalf("criu is not in the guest image (mkimage.sh installs it): %v", err)
	}
	for _, rt := range deviceRuntimes {
		t.Run(rt.name, func(t *testing.T) { checkpointRestore(t, rt.runtime, rt.systemd) })
	}
}

func checkpointRestore(t *testing.T, rt string, systemd bool) {
	h := newHull(t, systemd)
	if rt != "" {
		bin, err := exec.LookPath(rt)
		if err != nil {
			t.Skipf("no %s in the guest: %v", rt, err)
		}
		h.bin = bin
	}
	id := randomName(t, "ck-")
	path := "/hull-guest/" + id
	if systemd {
		path = "system.slice:hull-guest:" + id
	}
	bundle := guestBundle(t, path, "sh", "-c", counterScript)
	data := t.TempDir()
	editSpec(t, bundle, func(s *specs.Spec) {
		s.Root.Readonly = false // the count is written to /count
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: data, Options: []string{"rbind", "rw"}})
	})
	t.Cleanup(func() { h.run("delete", "--force", id) })
	counter := filepath.Join(bundle, "rootfs/count")

	out := h.startWithPipes(t, "run", "--detach", "--bundle", bundle, id)
	waitCount(t, counter, 5)
	pid := statePid(t, h, id)
	cg := cgroupOf(t, pid)

	img := filepath.Join(t.TempDir(), "image")
	t0 := time.Now()
	h.must("checkpoint", "--image-path", img, id)
	t.Logf("%s: checkpoint took %v", h.bin, time.Since(t0))
	if o, err := h.run("state", id); err == nil {
		t.Errorf("after checkpoint the container is still there: %s", o)
	}
	if !eventually(10*time.Second, func() bool { _, err := os.Stat(cg); return os.IsNotExist(err) }) {
		t.Errorf("after checkpoint the cgroup %s is still there", cg)
	}
	out.Close()
	atCheckpoint := readCount(t, counter)

	pidFile := filepath.Join(t.TempDir(), "pid")
	t0 = time.Now()
	out = h.startWithPipes(t, "restore", "--detach", "--image-path", img, "--pid-file", pidFile, "--bundle", bundle, id)
	defer out.Close()
	t.Logf("%s: restore took %v", h.bin, time.Since(t0))
	restored := statePid(t, h, id)
	if got, _ := os.ReadFile(pidFile); strings.TrimSpace(string(got)) != strconv.Itoa(restored) {
		t.Errorf("--pid-file holds %q, the state's pid is %d", got, restored)
	}
	if got := cgroupOf(t, restored); got != cg {
		t.Errorf("restored init in cgroup %s, want the container's %s", got, cg)
	}
	if limit, _ := os.ReadFile(filepath.Join(cg, "memory.max")); strings.TrimSpace(string(limit)) != "67108864" {
		t.Errorf("restored cgroup's memory.max %q, want 67108864", limit)
	}
	waitCount(t, counter, atCheckpoint+3)
	if tick := firstTick(t, out); tick <= atCheckpoint {
		t.Errorf("the new stdout's first line is tick %d: the count was %d at checkpoint, so the process started afresh", tick, atCheckpoint)
	}
	h.must("exec", id, "sh", "-c", "echo restored > /data/x")
	if got, err := os.ReadFile(filepath.Join(data, "x")); err != nil || string(got) != "restored\n" {
		t.Errorf("the bind mount after restore: %q, %v", got, err)
	}

	img2 := filepath.Join(t.TempDir(), "image2")
	h.must("checkpoint", "--leave-running", "--image-path", img2, id)
	if _, err := os.Stat(filepath.Join(img2, "inventory.img")); err != nil {
		t.Errorf("checkpoint --leave-running wrote no image: %v", err)
	}
	if st := h.must("state", id); !strings.Contains(st, `"running"`) || statePid(t, h, id) != restored {
		t.Errorf("after checkpoint --leave-running: %s", st)
	}
	h.must("delete", "--force", id)
	if !eventually(10*time.Second, func() bool { _, err := os.Stat(cg); return os.IsNotExist(err) }) {
		t.Errorf("after delete the cgroup %s is still there", cg)
	}
}

// startWithPipes runs the runtime with pipes for stdin and stdout, as
// engines give a container's stdio, and returns the read end of stdout.
func (h *hullCmd) startWithPipes(t *testing.T, args ...string) *os.File {
	t.Helper()
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inW.Close() })
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errFile, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	cmd := exec.Command(h.bin, append(append([]string{"--root", h.root}, h.global...), args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errFile
	err = cmd.Run()
	inR.Close()
	outW.Close()
	if err != nil {
		msg, _ := os.ReadFile(errFile.Name())
		outR.Close()
		t.Fatalf("%s %s: %v\n%s", h.bin, strings.Join(args, " "), err, msg)
	}
	return outR
}

func statePid(t *testing.T, h *hullCmd, id string) int {
	t.Helper()
	st := h.must("state", id)
	i := strings.Index(st, `"pid":`)
	if i < 0 {
		t.Fatalf("state without a pid: %s", st)
	}
	var pid int
	fmt.Sscanf(strings.TrimSpace(st[i+len(`"pid":`):]), "%d", &pid)
	if pid <= 0 {
		t.Fatalf("state pid %d: %s", pid, st)
	}
	return pid
}

// cgroupOf is pid's cgroup v2 directory.
func cgroupOf(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(data))
	if !strings.HasPrefix(line, "0::") {
		t.Fatalf("/proc/%d/cgroup: %q", pid, line)
	}
	return "/sys/fs/cgroup" + strings.TrimPrefix(line, "0::")
}

func readCount(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return n
}

// waitCount waits up to a minute (TCG) for the counter to reach n.
func waitCount(t *testing.T, path string, n int) {
	t.Helper()
	if !eventually(time.Minute, func() bool {
		data, _ := os.ReadFile(path)
		got, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		return got >= n
	}) {
		data, _ := os.ReadFile(path)
		t.Fatalf("the container's count stayed at %q, want %d", data, n)
	}
}

// firstTick reads the first "tick N" line of the container's stdout.
func firstTick(t *testing.T, out *os.File) int {
	t.Helper()
	out.SetReadDeadline(time.Now().Add(time.Minute))
	line, err := bufio.NewReader(out).ReadString('\n')
	var n int
	if _, serr := fmt.Sscanf(line, "tick %d", &n); err != nil || serr != nil {
		t.Fatalf("the container's stdout after restore: %q, %v", line, err)
	}
	return n
}

func eventually(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}
