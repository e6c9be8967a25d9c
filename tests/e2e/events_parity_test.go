package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestEventsIntervalParity: a non-positive --interval is refused with
// status 1 and a message, as runc refuses it, never with a Go panic.
func TestEventsIntervalParity(t *testing.T) {
	for _, rt := range cliRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			c := newRuntimeContainer(t, rt, sleeper)
			c.runDetached()
			for _, args := range [][]string{
				{"events", "--interval", "0", c.ID},
				{"events", "--interval", "-1s", c.ID},
				{"events", "--stats", "--interval", "0s", c.ID},
			} {
				r := c.hull(args...)
				if r.Code != 1 || r.Stdout != "" || strings.TrimSpace(r.Stderr) == "" {
					t.Errorf("want exit 1, a message and no output: %s", r)
				}
				if strings.Contains(r.Stderr, "panic") || strings.Contains(r.Stderr, "goroutine") {
					t.Errorf("panicked: %s", r)
				}
				if rt == "hull" && !strings.Contains(r.Stderr, "--interval "+args[len(args)-2]) {
					t.Errorf("the message does not name the flag and its value: %s", r)
				}
			}
		})
	}
}

// TestEventsStreamContainerStops: the stream prints stats on each tick and
// never at once; it goes on through the container's stop (the cgroup lives
// until delete: stats lines go on, as under runc) and ends with status 0
// when delete removes the cgroup.
func TestEventsStreamContainerStops(t *testing.T) {
	const interval = 400 * time.Millisecond
	for _, rt := range cliRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			c := newRuntimeContainer(t, rt, sleeper)
			c.runDetached()
			p := c.startEvents(interval)
			time.Sleep(interval / 2)
			if lines := eventLines(t, p); len(lines) != 0 {
				t.Errorf("printed before the first tick: %v", lines)
			}
			waitEvents(t, p, "stats", 2)
			c.mustHull("kill", c.ID, "KILL")
			c.waitStopped()
			stopped := countType(eventLines(t, p), "stats")
			waitEvents(t, p, "stats", stopped+2)
			if p.exited() {
				t.Fatalf("ended while the container's cgroup still exists: %s", p.wait())
			}
			c.mustHull("delete", c.ID)
			r := c.eventsEnded(p)
			if r.Code != 0 {
				t.Errorf("want exit 0 once the container is deleted: %s", r)
			}
			if r.Stderr != "" {
				t.Logf("stderr (logged, not fatal): %s", r.Stderr)
			}
			checkEventShape(t, c.ID, r.Stdout)
		})
	}
}

// TestEventsOOMParity: an OOM kill in the container is an "oom" line, and
// the stream still ends with status 0 at delete.
func TestEventsOOMParity(t *testing.T) {
	needV1(t, "memory", "memory.oom_control")
	limit := int64(48 << 20)
	for _, rt := range cliRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			c := newRuntimeContainer(t, rt, func(s *specs.Spec) {
				sleeper(s)
				s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
			})
			c.runDetached()
			p := c.startEvents(200 * time.Millisecond)
			waitEvents(t, p, "stats", 1)
			// dd's buffer, filled, is more than the cgroup may hold (the
			// host has no swap to take it, and memsw would cap that too).
			if r := c.hull("exec", c.ID, "dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"); r.Code == 0 {
				t.Fatalf("dd was not OOM-killed: %s", r)
			}
			waitEvents(t, p, "oom", 1)
			c.mustHull("delete", "--force", c.ID)
			r := c.eventsEnded(p)
			if r.Code != 0 {
				t.Errorf("want exit 0 once the container is deleted: %s", r)
			}
			checkEventShape(t, c.ID, r.Stdout)
		})
	}
}

// startEvents starts `events --interval d ID` in the background; it is
// killed when the test ends if still running, so it never outlives it.
func (c *container) startEvents(d time.Duration) *hullProc {
	c.t.Helper()
	p := c.startHull(nil, "events", "--interval", d.String(), c.ID)
	c.t.Cleanup(func() {
		if p.cmd.ProcessState == nil { // not waited for yet
			p.cmd.Process.Kill()
			p.wait()
		}
	})
	return p
}

// eventsEnded waits, bounded, for the stream to end by itself after the
// container's delete; a stream that does not end is killed and fails.
func (c *container) eventsEnded(p *hullProc) result {
	c.t.Helper()
	if !waitUntil(10*time.Second, p.exited) {
		p.cmd.Process.Kill()
		c.t.Fatalf("events still runs 10s after delete: %s", p.wait())
	}
	return p.wait()
}

// eventLines is what the running stream printed so far, whole lines only.
func eventLines(t *testing.T, p *hullProc) []string {
	t.Helper()
	data, err := os.ReadFile(p.stdout.Name())
	if err != nil {
		t.Fatal(err)
	}
	out := string(data)
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		return strings.Split(out[:i], "\n")
	}
	return nil
}

// waitEvents waits until the stream printed n lines of type typ.
func waitEvents(t *testing.T, p *hullProc, typ string, n int) {
	t.Helper()
	if !waitUntil(10*time.Second, func() bool { return countType(eventLines(t, p), typ) >= n || p.exited() }) {
		t.Fatalf("no %d %q events in 10s: %v", n, typ, eventLines(t, p))
	}
	if got := countType(eventLines(t, p), typ); got < n {
		t.Fatalf("ended after %d %q events, want %d: %s", got, typ, n, p.wait())
	}
}

// countType counts the lines whose "type" is typ.
func countType(lines []string, typ string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, `"type":"`+typ+`"`) {
			n++
		}
	}
	return n
}

// checkEventShape checks that out is JSON lines, each a stats event with
// data or an oom event, of the container id.
func checkEventShape(t *testing.T, id, out string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var e struct {
			Type string          `json:"type"`
			ID   string          `json:"id"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Errorf("not a JSON line: %q: %v", line, err)
			continue
		}
		ok := e.ID == id && (e.Type == "oom" || e.Type == "stats" && len(e.Data) > 0 && string(e.Data) != "null")
		if !ok {
			t.Errorf("not a stats or oom event of %s: %s", id, line)
		}
	}
}
