package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestKillPausedParity: SIGKILL to a paused container, with and without
// --all, ends it on cgroup v1 as under runc (which thaws after the signal:
// a frozen task cannot die until thawed). Another signal leaves it paused.
func TestKillPausedParity(t *testing.T) {
	needV1(t, "freezer", "cgroup.procs")
	cases := []struct {
		name    string
		from    string // the status paused from: created or running
		flags   []string
		sig     string
		stopped bool
	}{
		{"KILL", "running", nil, "KILL", true},
		{"all-KILL", "running", []string{"--all"}, "KILL", true},
		{"KILL-created", "created", nil, "KILL", true},
		{"TERM", "running", nil, "TERM", false},
	}
	for _, rt := range cliRuntimes(t) {
		for _, tc := range cases {
			t.Run(rt+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				c := pausedContainer(t, rt, tc.from)
				pid := c.state().Pid
				// The flags go before the id: runc 1.1 reads none after it.
				args := append(append([]string{"kill"}, tc.flags...), c.ID, tc.sig)
				c.mustHull(args...)
				if !tc.stopped {
					time.Sleep(300 * time.Millisecond) // what a thaw would let happen
					checkPaused(t, c, pid)
					return
				}
				if !waitUntil(10*time.Second, func() bool { return c.state().Status == "stopped" }) {
					t.Fatalf("%v of a paused container: status %s, freezer %s",
						args, c.state().Status, readCgroupFile(t, c.Cgroup, "freezer", "freezer.state"))
				}
				c.reap()
				if startTime(pid) != "" {
					t.Errorf("the init %d still runs", pid)
				}
				if got := readCgroupFile(t, c.Cgroup, "freezer", "freezer.state"); got != "THAWED" {
					t.Errorf("freezer.state %s after the kill, want THAWED", got)
				}
			})
		}
	}
}

// pausedContainer makes a sleeping container driven by rt, takes it to
// from (created or running), pauses it and checks it is paused.
func pausedContainer(t *testing.T, rt, from string) *container {
	t.Helper()
	c := newRuntimeContainer(t, rt, sleeper)
	if from == "created" {
		c.mustCreate()
	} else {
		c.runDetached()
	}
	c.mustHull("pause", c.ID)
	checkPaused(t, c, c.state().Pid)
	return c
}

// checkPaused fails the test unless c says paused, its freezer is FROZEN
// and its init pid lives.
func checkPaused(t *testing.T, c *container, pid int) {
	t.Helper()
	if s := c.state(); s.Status != "paused" || s.Pid != pid {
		t.Fatalf("state %+v, want paused with the init %d", s, pid)
	}
	if got := readCgroupFile(t, c.Cgroup, "freezer", "freezer.state"); got != "FROZEN" {
		t.Fatalf("freezer.state %s, want FROZEN", got)
	}
	if startTime(pid) == "" {
		t.Fatalf("the init %d is gone", pid)
	}
}

// TestKillAllCgroupGoneParity: kill --all of a stopped container whose
// cgroup was removed (as the systemd driver removes an emptied scope's)
// succeeds, as runc's: containerd's shim kills all after the init exits.
// Of a running container it still signals every process.
func TestKillAllCgroupGoneParity(t *testing.T) {
	needV1(t, "freezer", "cgroup.procs")
	for _, rt := range cliRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			t.Parallel()
			c := newRuntimeContainer(t, rt, sleeper)
			c.runDetached()
			c.mustHull("kill", c.ID, "KILL")
			c.waitStopped()
			c.reap()
			// A reaped task can still hold its cgroup for a moment (EBUSY).
			waitUntil(5*time.Second, func() bool {
				for _, d := range cgroupDirs(c.Cgroup) {
					removeCgroupTree(d)
				}
				return len(cgroupDirs(c.Cgroup)) == 0
			})
			if dirs := cgroupDirs(c.Cgroup); len(dirs) > 0 {
				t.Fatalf("could not remove the cgroup: %v left", dirs)
			}
			if r := c.hull("kill", "--all", c.ID, "KILL"); r.Code != 0 {
				t.Errorf("kill --all of a stopped container without its cgroup: %s", r)
			}
			c.wantStatus("stopped")
			// The signal a shim sends first, to see if anything is left.
			if r := c.hull("kill", "--all", c.ID, "0"); r.Code != 0 {
				t.Errorf("kill --all 0 of a stopped container without its cgroup: %s", r)
			}
			// Plain kill of a stopped container stays an error for both.
			if r := c.hull("kill", c.ID, "KILL"); r.Code == 0 {
				t.Errorf("kill of a stopped container succeeded:\n%s", r)
			}
		})
	}
}

// TestPauseCreatedParity: a created container can be paused, as under
// runc: state says paused and start is refused; resume takes it back to
// created, and start then runs it.
func TestPauseCreatedParity(t *testing.T) {
	needV1(t, "freezer", "cgroup.procs")
	for _, rt := range cliRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			t.Parallel()
			c := pausedContainer(t, rt, "created")
			pid := c.state().Pid
			r := c.hull("start", c.ID)
			if r.Code == 0 {
				t.Fatalf("start of a paused container succeeded:\n%s", r)
			}
			if rt == "hull" && !strings.Contains(r.Stderr, "paused") {
				t.Errorf("start's refusal does not say paused:\n%s", r)
			}
			t.Logf("%s start of a paused created container: exit %d: %s", rt, r.Code, strings.TrimSpace(r.Stderr))
			checkPaused(t, c, pid)

			c.mustHull("resume", c.ID)
			if s := c.state(); s.Status != "created" || s.Pid != pid {
				t.Fatalf("after resume: state %+v, want created with the init %d", s, pid)
			}
			if got := readCgroupFile(t, c.Cgroup, "freezer", "freezer.state"); got != "THAWED" {
				t.Errorf("freezer.state %s after resume, want THAWED", got)
			}
			c.mustHull("start", c.ID)
			c.wantStatus("running")
			if startTime(pid) == "" {
				t.Errorf("the init %d is gone after start", pid)
			}
		})
	}
}
