package guest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
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
// where a fresh start would begin at 1 again. /count is replaced by a
// rename, so a reader (or a checkpoint) never finds it half written.
const counterScript = `i=0; while :; do i=$((i+1)); echo $i > /count.new; mv /count.new /count; echo tick $i; sleep 0.2; done`

// TestCheckpointRestore: a running container is checkpointed with criu
// (it is then gone, its cgroup too) and restored from the image, as
// engines do it (detached, new stdio pipes, a pid file): its process goes
// on counting from memory in the same cgroup with its limit, writes to the
// new stdout, its bind mount is there (its mount point removed in
// between), its prestart and createRuntime hooks ran again with the
// restored pid, exec joins it; a paused container
// (containerd pauses before it checkpoints) is checkpointed with
// --leave-running and goes on after resume. hull with each cgroup driver,
// runc as the control.
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
	h, id, path := runtimeUnderTest(t, rt, systemd, "ck-")
	bundle := guestBundle(t, path, "sh", "-c", counterScript)
	data, sub, hookOut := t.TempDir(), t.TempDir(), t.TempDir()
	editSpec(t, bundle, func(s *specs.Spec) {
		s.Root.Readonly = false // the count is written to /count
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: data, Options: []string{"rbind", "rw"}},
			// Its mount point lies in the /data bind's source.
			specs.Mount{Destination: "/data/sub", Type: "bind", Source: sub, Options: []string{"rbind", "rw"}})
		s.Hooks = &specs.Hooks{
			//lint:ignore SA1019 deprecated by the spec, still honoured by runtimes
			Prestart:      []specs.Hook{stateWriter(filepath.Join(hookOut, "prestart"))}, //nolint:staticcheck // deprecated
			CreateRuntime: []specs.Hook{stateWriter(filepath.Join(hookOut, "createRuntime"))},
		}
	})
	t.Cleanup(func() { h.run("delete", "--force", id) })
	counter := filepath.Join(bundle, "rootfs/count")

	out := h.startWithPipes(t, "run", "--detach", "--bundle", bundle, id)
	waitCount(t, counter, 5)
	pid := statePid(t, h, id)
	cg := cgroupOf(t, pid)
	for _, kind := range []string{"prestart", "createRuntime"} {
		if got := hookPid(t, filepath.Join(hookOut, kind)); got != pid {
			t.Errorf("at create the %s hook got pid %d, want %d", kind, got, pid)
		}
		os.Remove(filepath.Join(hookOut, kind))
	}

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
	// As in a fresh copy of the image (podman's restore --import) with a
	// fresh volume: the mount points create made, in the rootfs and in the
	// /data bind's source, are gone; restore makes them.
	for _, made := range []string{filepath.Join(data, "sub"), filepath.Join(bundle, "rootfs/data")} {
		if err := os.Remove(made); err != nil {
			t.Fatalf("the mount point create made: %v", err)
		}
	}

	pidFile := filepath.Join(t.TempDir(), "pid")
	t0 = time.Now()
	out = h.startWithPipes(t, "restore", "--detach", "--image-path", img, "--pid-file", pidFile, "--bundle", bundle, id)
	defer out.Close()
	t.Logf("%s: restore took %v", h.bin, time.Since(t0))
	restored := statePid(t, h, id)
	if got, _ := os.ReadFile(pidFile); strings.TrimSpace(string(got)) != strconv.Itoa(restored) {
		t.Errorf("--pid-file holds %q, the state's pid is %d", got, restored)
	}
	// The restore runs them again (runc: at criu's setup-namespaces step),
	// with the restored init's pid.
	for _, kind := range []string{"prestart", "createRuntime"} {
		if got := hookPid(t, filepath.Join(hookOut, kind)); got != restored {
			t.Errorf("at restore the %s hook got pid %d, want the restored init's %d", kind, got, restored)
		}
	}
	if got := cgroupOf(t, restored); got != cg {
		t.Errorf("restored init in cgroup %s, want the container's %s", got, cg)
	}
	if limit, _ := os.ReadFile(filepath.Join(cg, "memory.max")); strings.TrimSpace(string(limit)) != "67108864" {
		t.Errorf("restored cgroup's memory.max %q, want 67108864", limit)
	}
	waitCount(t, counter, atCheckpoint+3)
	// The count is written before the tick is printed, so a checkpoint
	// between the two leaves the restored process to print the tick the
	// count already shows; a fresh start would print tick 1.
	if tick := firstTick(t, out); tick < atCheckpoint {
		t.Errorf("the new stdout's first line is tick %d: the count was %d at checkpoint, so the process started afresh", tick, atCheckpoint)
	}
	h.must("exec", id, "sh", "-c", "echo restored > /data/x; echo restored > /data/sub/y")
	if got, err := os.ReadFile(filepath.Join(data, "x")); err != nil || string(got) != "restored\n" {
		t.Errorf("the bind mount after restore: %q, %v", got, err)
	}
	if got, err := os.ReadFile(filepath.Join(sub, "y")); err != nil || string(got) != "restored\n" {
		t.Errorf("the nested bind mount after restore: %q, %v", got, err)
	}

	// containerd pauses a task before it checkpoints it.
	img2 := filepath.Join(t.TempDir(), "image2")
	h.must("pause", id)
	h.must("checkpoint", "--leave-running", "--image-path", img2, id)
	if _, err := os.Stat(filepath.Join(img2, "inventory.img")); err != nil {
		t.Errorf("checkpoint --leave-running of a paused container wrote no image: %v", err)
	}
	h.must("resume", id)
	if st := h.must("state", id); !strings.Contains(st, `"running"`) || statePid(t, h, id) != restored {
		t.Errorf("after pause, checkpoint --leave-running, resume: %s", st)
	}
	waitCount(t, counter, readCount(t, counter)+2)
	h.must("delete", "--force", id)
	if !eventually(10*time.Second, func() bool { _, err := os.Stat(cg); return os.IsNotExist(err) }) {
		t.Errorf("after delete the cgroup %s is still there", cg)
	}
}

// startWithPipes runs the runtime with pipes for stdin, stdout and
// stderr, as engines give a container's stdio (criu restores a pipe, not a
// file of a mount outside the container), and returns the read end of
// stdout.
func (h *hullCmd) startWithPipes(t *testing.T, args ...string) *os.File {
	t.Helper()
	var ends [3][2]*os.File // stdin, stdout, stderr: read end, write end
	for i := range ends {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		ends[i] = [2]*os.File{r, w}
	}
	t.Cleanup(func() { ends[0][1].Close(); ends[2][0].Close() })
	cmd := exec.Command(h.bin, append(append([]string{"--root", h.root}, h.global...), args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = ends[0][0], ends[1][1], ends[2][1]
	err := cmd.Run()
	for _, f := range []*os.File{ends[0][0], ends[1][1], ends[2][1]} {
		f.Close()
	}
	if err != nil {
		ends[2][0].SetReadDeadline(time.Now().Add(2 * time.Second))
		msg, _ := io.ReadAll(ends[2][0])
		ends[1][0].Close()
		t.Fatalf("%s %s: %v\n%s", h.bin, strings.Join(args, " "), err, msg)
	}
	return ends[1][0]
}

// stateWriter is a hook that writes the state it gets to out.
func stateWriter(out string) specs.Hook {
	return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", `cat > "$1.new" && mv "$1.new" "$1"`, "sh", out}}
}

// hookPid is the pid of the state a stateWriter hook wrote.
func hookPid(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the hook wrote no state: %v", err)
	}
	var st specs.State
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("%s: %v: %q", path, err, data)
	}
	return st.Pid
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

// TestRestoreLeavesNothing: a restore that fails, before criu (no image,
// a terminal) or in it (a stand-in criu that fails, one that names no
// init), says why and leaves no state directory, cgroup or mount behind.
func TestRestoreLeavesNothing(t *testing.T) {
	inGuest(t)
	img := t.TempDir()
	if err := os.WriteFile(filepath.Join(img, "inventory.img"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fake := func(body string) string {
		path := filepath.Join(t.TempDir(), "criu")
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// A stand-in criu that runs its action script at setup-namespaces, as
	// criu does, and fails when the script fails.
	runsActionScript := fake(`while [ $# -gt 0 ]; do [ "$1" = --action-script ] && s=$2; shift; done
CRTOOLS_SCRIPT_ACTION=setup-namespaces CRTOOLS_INIT_PID=$$ "$s" || exit 1`)
	hookOut := t.TempDir()
	failingHook := func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{
			CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo no network >&2; exit 4"}}},
			Poststop:      []specs.Hook{stateWriter(filepath.Join(hookOut, "poststop"))},
		}
	}
	cases := []struct {
		name     string
		terminal bool
		edit     func(*specs.Spec)
		args     []string
		want     string
	}{
		{"no image", false, nil, []string{"restore", "--image-path", t.TempDir()}, "no checkpoint image there"},
		{"terminal", true, nil, []string{"restore", "--image-path", img}, "a container with a terminal cannot be restored"},
		{"criu fails", false, nil, []string{"--criu", fake(`echo "(0.1) Error (cr-restore.c:1): Restoring FAILED." > "$5/restore.log"; exit 1`), "restore", "--image-path", img},
			"see " + filepath.Join(img, "restore.log") + ": (0.1) Error (cr-restore.c:1): Restoring FAILED."},
		{"no pid file", false, nil, []string{"--criu", fake("exit 0"), "restore", "--image-path", img}, "criu's pid file"},
		{"a hook fails", false, failingHook, []string{"--criu", runsActionScript, "restore", "--image-path", img},
			"hooks.createRuntime[0] /bin/sh: exit status 4: no network"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHull(t, false)
			id := randomName(t, "rst-")
			bundle := guestBundle(t, "/hull-guest/"+id, "sleep", "100")
			editSpec(t, bundle, func(s *specs.Spec) {
				s.Process.Terminal = tc.terminal
				if tc.edit != nil {
					tc.edit(s)
				}
			})
			out, err := h.run(append(tc.args, "--bundle", bundle, id)...)
			if err == nil || !strings.Contains(out, tc.want) {
				t.Errorf("want a failure saying %q: %v\n%s", tc.want, err, out)
			}
			if _, err := os.Stat(filepath.Join(h.root, id)); !os.IsNotExist(err) {
				t.Errorf("state directory left: %v", err)
			}
			if _, err := os.Stat("/sys/fs/cgroup/hull-guest/" + id); !os.IsNotExist(err) {
				t.Errorf("cgroup left: %v", err)
			}
			if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), "hull-restore-root-") {
				t.Errorf("the restore's root bind is still mounted")
			}
			if tc.edit != nil {
				// Once the hooks began, the undo runs poststop, as a failed create's.
				if _, err := os.Stat(filepath.Join(hookOut, "poststop")); err != nil {
					t.Errorf("poststop did not run after the failed restore: %v", err)
				}
			}
		})
	}
}
