package guest

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hullCmd runs the hull binary under test with a state root of the test's own.
type hullCmd struct {
	t      *testing.T
	bin    string
	root   string
	global []string
}

func newHull(t *testing.T, systemd bool) *hullCmd {
	bin := os.Getenv("HULL_BINARY")
	if bin == "" {
		t.Skip("HULL_BINARY not set")
	}
	h := &hullCmd{t: t, bin: bin, root: t.TempDir()}
	if systemd {
		h.global = []string{"--systemd-cgroup"}
	}
	return h
}

// run captures output in a file, not a pipe: a container inherits hull's
// stdio, and a pipe would stay open (and the read blocked) as long as it runs.
func (h *hullCmd) run(args ...string) (string, error) {
	all := append([]string{"--root", h.root}, h.global...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := os.CreateTemp(h.t.TempDir(), "out")
	if err != nil {
		return "", err
	}
	defer out.Close()
	cmd := exec.CommandContext(ctx, h.bin, append(all, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	data, _ := os.ReadFile(out.Name())
	return string(data), err
}

func (h *hullCmd) must(args ...string) string {
	h.t.Helper()
	out, err := h.run(args...)
	if err != nil {
		h.t.Fatalf("hull %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// guestBundle copies the busybox rootfs to the guest's own disk (the work
// tree is a read-only 9p share) and writes a config around it.
func guestBundle(t *testing.T, cgroupsPath string, args ...string) string {
	src := filepath.Join(os.Getenv("HULL_GUEST_SRC"), "_build/rootfs/busybox")
	if _, err := os.Stat(src); err != nil {
		t.Skipf("no busybox rootfs at %s (make rootfs): %v", src, err)
	}
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-a", src, filepath.Join(dir, "rootfs")).CombinedOutput(); err != nil {
		t.Fatalf("copy rootfs: %v\n%s", err, out)
	}
	bin := os.Getenv("HULL_BINARY")
	if out, err := exec.Command(bin, "spec", "--bundle", dir).CombinedOutput(); err != nil {
		t.Fatalf("hull spec: %v\n%s", err, out)
	}
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	limit, pids := int64(64<<20), int64(64)
	spec.Process.Terminal = false
	spec.Process.Args = args
	spec.Linux.CgroupsPath = cgroupsPath
	spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
	spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: &pids}
	if data, err = json.Marshal(&spec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestHullOnCgroupV2 runs a real container on the guest's unified
// hierarchy, with the cgroupfs driver and with the systemd driver (a
// transient scope over D-Bus), and checks the cgroup files the kernel sees.
func TestHullOnCgroupV2(t *testing.T) {
	inGuest(t)
	for _, tc := range []struct {
		name    string
		systemd bool
		path    func(id string) string
	}{
		{"cgroupfs", false, func(id string) string { return "/hull-guest/" + id }},
		{"systemd", true, func(id string) string { return "system.slice:hull-guest:" + id }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHull(t, tc.systemd)
			id := randomName(t, "v2-")
			bundle := guestBundle(t, tc.path(id), "sleep", "60")
			h.must("create", "--bundle", bundle, id)
			t.Cleanup(func() { h.run("delete", "--force", id) })
			var st specs.State
			if err := json.Unmarshal([]byte(h.must("state", id)), &st); err != nil {
				t.Fatal(err)
			}
			cg, err := ownCgroup(st.Pid)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(cgroupRoot, cg)
			t.Logf("container cgroup: %s", cg)
			if tc.systemd && !strings.HasSuffix(filepath.Dir(cg), "hull-guest-"+id+".scope") && !strings.Contains(cg, "hull-guest-"+id+".scope") {
				t.Errorf("cgroup %s is not in the scope hull-guest-%s.scope", cg, id)
			}
			expectFile(t, dir, "memory.max", "67108864")
			expectFile(t, dir, "pids.max", "64")
			h.must("start", id)
			// Inside, the cgroup namespace makes the container's cgroup the root.
			out := h.must("exec", id, "cat", "/proc/self/cgroup", "/sys/fs/cgroup/memory.max")
			if !strings.Contains(out, "0::/") || !strings.Contains(out, "67108864") {
				t.Errorf("inside the container: %q, want 0::/ and memory.max 67108864", out)
			}
			h.must("pause", id)
			expectFile(t, dir, "cgroup.freeze", "1")
			h.must("resume", id)
			expectFile(t, dir, "cgroup.freeze", "0")
			h.must("update", "--pids-limit", "32", id)
			expectFile(t, dir, "pids.max", "32")
			h.must("kill", id, "KILL")
			waitStopped(t, h, id)
			h.must("delete", id)
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("cgroup %s still there after delete: %v", dir, err)
			}
		})
	}
}

func expectFile(t *testing.T, dir, name, want string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Errorf("read %s: %v", name, err)
		return
	}
	if got := strings.TrimSpace(string(data)); got != want {
		t.Errorf("%s = %q, want %q", name, got, want)
	}
}

func waitStopped(t *testing.T, h *hullCmd, id string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out, err := h.run("state", id)
		if err == nil && strings.Contains(out, `"stopped"`) {
			return
		}
	}
	t.Fatalf("container %s did not stop", id)
}
