package engines

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCRI drives hull through containerd's CRI with crictl, the way the
// kubelet does: the same flow for the runc handler (the control) and the
// hull handler, against one daemon.
func TestCRI(t *testing.T) {
	t.Parallel()
	c := newCRIDaemon(t)
	for _, h := range criHandlers {
		t.Run(h, func(t *testing.T) { c.testPodFlow(t, h) })
	}
}

// handlerBin is the runtime binary behind a handler.
func (c *criDaemon) handlerBin(h string) string {
	if h == "hull" {
		return c.hull
	}
	p, _ := exec.LookPath("runc")
	return p
}

// runtimeStatus is the status the handler's runtime itself reports for id
// (its `state` command, under the root the shim gave it): the proof that
// this handler's runtime runs the container.
func (c *criDaemon) runtimeStatus(t *testing.T, h, id string) string {
	t.Helper()
	r := runCmd(t, nil, nil, c.handlerBin(h), "--root", c.criRoot(h), "state", id)
	if r.Code != 0 {
		return "absent"
	}
	var st struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		t.Fatalf("%s state %s: %v: %s", h, id, err, r.Stdout)
	}
	return st.Status
}

func (c *criDaemon) writeJSON(t *testing.T, name string, v any) string {
	t.Helper()
	p := filepath.Join(c.s.Dir, name)
	if err := os.WriteFile(p, mustJSON(v), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// testPodFlow: runp, create, start, exec (sync and streamed), logs,
// stats, update (then the devices still work), stop, rm, stopp, rmp.
func (c *criDaemon) testPodFlow(t *testing.T, h string) {
	name := "pod-" + h + "-" + randHex(4)
	logDir := filepath.Join(c.s.Dir, "logs", name)
	pod := c.writeJSON(t, name+".json", map[string]any{
		"metadata":      map[string]any{"name": name, "namespace": "hull-test", "uid": randHex(8), "attempt": 1},
		"log_directory": logDir,
		"linux":         map[string]any{},
	})
	ctr := c.writeJSON(t, name+"-ctr.json", map[string]any{
		"metadata": map[string]any{"name": "main"},
		"image":    map[string]any{"image": criBusyboxImage},
		// Exits 0 on SIGTERM, so stop is prompt.
		"command":  []string{"sh", "-c", "echo started-" + h + "; trap 'exit 0' TERM; while :; do sleep 0.2; done"},
		"log_path": "main.log",
		"linux":    map[string]any{},
	})
	podID := c.mustCrictl(t, "runp", "--runtime", h, pod)
	defer c.crictl(t, "rmp", "--force", podID)
	if got := c.runtimeStatus(t, h, podID); got != "running" {
		t.Errorf("%s holds the sandbox %s as %q, want running", h, podID, got)
	}
	id := c.mustCrictl(t, "create", podID, ctr, pod)
	c.mustCrictl(t, "start", id)
	if got := c.runtimeStatus(t, h, id); got != "running" {
		t.Errorf("%s holds the container %s as %q, want running", h, id, got)
	}
	c.checkExec(t, id)
	c.checkLogs(t, id, "started-"+h)
	c.checkStats(t, id)
	c.checkUpdate(t, id)
	start := time.Now()
	c.mustCrictl(t, "stop", "--timeout", "10", id)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop of a container that exits on SIGTERM took %v", d)
	}
	if st := c.inspectStatus(t, id); st.State != "CONTAINER_EXITED" || st.ExitCode != 0 {
		t.Errorf("after stop: state %s exit %d, want CONTAINER_EXITED 0", st.State, st.ExitCode)
	}
	c.mustCrictl(t, "rm", id)
	if got := c.runtimeStatus(t, h, id); got != "absent" {
		t.Errorf("%s still holds %s after rm (%s)", h, id, got)
	}
	c.mustCrictl(t, "stopp", podID)
	c.mustCrictl(t, "rmp", podID)
	if got := c.runtimeStatus(t, h, podID); got != "absent" {
		t.Errorf("%s still holds the sandbox %s after rmp (%s)", h, podID, got)
	}
}

// checkExec: ExecSync (the kubelet's probes) passes the exit status, the
// streamed exec (kubectl exec) the output; both get HOME from the image's
// /etc/passwd, as runc sets it.
func (c *criDaemon) checkExec(t *testing.T, id string) {
	t.Helper()
	// crictl reports ExecSync's exit status in its error.
	if r := c.crictl(t, "exec", "--sync", id, "sh", "-c", "echo from-exec; exit 3"); r.Code == 0 || !strings.Contains(r.Stderr, "exited with 3") {
		t.Errorf("exec --sync: want exit status 3 reported; got %s", r)
	}
	if r := c.crictl(t, "exec", "--sync", id, "sh", "-c", "echo from-exec"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "from-exec" {
		t.Errorf("exec --sync: want from-exec; got %s", r)
	}
	if r := c.crictl(t, "exec", id, "sh", "-c", "echo home=$HOME"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "home=/root" {
		t.Errorf("exec: want home=/root (root's entry in the image's /etc/passwd); got %s", r)
	}
}

func (c *criDaemon) checkLogs(t *testing.T, id, want string) {
	t.Helper()
	var r result
	for i := 0; i < 50; i++ {
		if r = c.crictl(t, "logs", id); r.Code == 0 && strings.Contains(r.Stdout, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("logs: want %q; got %s", want, r)
}

// checkStats: the container's CPU and memory usage come back.
func (c *criDaemon) checkStats(t *testing.T, id string) {
	t.Helper()
	out := c.mustCrictl(t, "stats", "--output", "json", "--id", id)
	var resp struct {
		Stats []struct {
			CPU struct {
				UsageCoreNanoSeconds struct {
					Value string `json:"value"`
				} `json:"usageCoreNanoSeconds"`
			} `json:"cpu"`
			Memory struct {
				WorkingSetBytes struct {
					Value string `json:"value"`
				} `json:"workingSetBytes"`
			} `json:"memory"`
		} `json:"stats"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil || len(resp.Stats) != 1 {
		t.Fatalf("stats: %v: %s", err, out)
	}
	st := resp.Stats[0]
	if n, _ := strconv.ParseUint(st.CPU.UsageCoreNanoSeconds.Value, 10, 64); n == 0 {
		t.Errorf("stats: no CPU usage: %s", out)
	}
	if n, _ := strconv.ParseUint(st.Memory.WorkingSetBytes.Value, 10, 64); n == 0 {
		t.Errorf("stats: no memory working set: %s", out)
	}
}

// checkUpdate: crictl update (Kubernetes' in-place resize) sets the
// memory limit in the container's cgroup, and the resources document the
// CRI sends, device rules included, leaves the devices usable.
func (c *criDaemon) checkUpdate(t *testing.T, id string) {
	t.Helper()
	const limit = 32 << 20
	c.mustCrictl(t, "update", "--memory", strconv.Itoa(limit), id)
	pid := c.inspectStatus(t, id).Pid
	if f := memoryLimitFile(pid); f == "" {
		t.Logf("no v1 memory cgroup for pid %d: limit not read back", pid)
	} else if data, err := os.ReadFile(f); err != nil || strings.TrimSpace(string(data)) != strconv.Itoa(limit) {
		t.Errorf("after update --memory %d: %s = %q (%v)", limit, f, data, err)
	}
	script := "echo x > /dev/null && head -c 1 /dev/zero | wc -c && head -c 1 /dev/urandom | wc -c"
	if r := c.crictl(t, "exec", "--sync", id, "sh", "-c", script); r.Code != 0 || strings.Fields(r.Stdout) == nil || strings.Join(strings.Fields(r.Stdout), " ") != "1 1" {
		t.Errorf("devices after update: want /dev/null, /dev/zero and /dev/urandom usable; got %s", r)
	}
}

// memoryLimitFile is memory.limit_in_bytes of pid's v1 memory cgroup.
func memoryLimitFile(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && strings.Contains(","+parts[1]+",", ",memory,") {
			return filepath.Join("/sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes")
		}
	}
	return ""
}

type criStatus struct {
	State    string
	ExitCode int
	Pid      int
}

func (c *criDaemon) inspectStatus(t *testing.T, id string) criStatus {
	t.Helper()
	out := c.mustCrictl(t, "inspect", "--output", "json", id)
	var resp struct {
		Status struct {
			State    string `json:"state"`
			ExitCode int    `json:"exitCode"`
		} `json:"status"`
		Info struct {
			Pid int `json:"pid"`
		} `json:"info"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("inspect %s: %v: %s", id, err, out)
	}
	return criStatus{resp.Status.State, resp.Status.ExitCode, resp.Info.Pid}
}
