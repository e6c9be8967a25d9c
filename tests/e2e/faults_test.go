package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// faultDelays are the moments after its start at which a command is
// killed: from before it did anything to after it finished.
var faultDelays = []time.Duration{0, time.Millisecond, 3 * time.Millisecond, 10 * time.Millisecond,
	30 * time.Millisecond, 60 * time.Millisecond, 120 * time.Millisecond, 250 * time.Millisecond}

// killAfter starts hull with args, SIGKILLs it after d and waits for it.
func (c *container) killAfter(d time.Duration, args ...string) {
	c.t.Helper()
	p := c.startHull(nil, args...)
	time.Sleep(d)
	p.cmd.Process.Signal(unix.SIGKILL)
	p.wait()
}

// mountsOf lists the host's mounts that mention the container's bundle.
func mountsOf(c *container) []string {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, c.Bundle) {
			out = append(out, l)
		}
	}
	return out
}

// assertCleanAfterForce runs delete --force (twice if the first one was
// killed) and checks that nothing of the container is left.
func assertCleanAfterForce(t *testing.T, c *container) {
	t.Helper()
	if r := c.hull("delete", "--force", c.ID); r.Code != 0 && !strings.Contains(r.Stderr, "does not exist") {
		t.Errorf("delete --force: %s", r)
	}
	c.reap()
	waitUntil(3*time.Second, func() bool { return len(leftovers(c)) == 0 })
	if left := leftovers(c); len(left) > 0 {
		t.Errorf("left behind after delete --force: %v", left)
	}
	if m := mountsOf(c); len(m) > 0 {
		t.Errorf("mounts left: %v", m)
	}
}

// TestFaultsKillEveryCommand: hull create, start, delete, exec, run and
// delete --force are SIGKILLed at many moments; delete --force (retried
// after a killed delete --force) then leaves no process, mount, cgroup or
// state entry.
func TestFaultsKillEveryCommand(t *testing.T) {
	flows := []struct {
		name    string
		prepare func(c *container) // brings the container to where the command runs
		args    func(c *container) []string
	}{
		{"create", nil, func(c *container) []string { return []string{"create", "--bundle", c.Bundle, c.ID} }},
		{"run", nil, func(c *container) []string { return []string{"run", "-d", "--bundle", c.Bundle, c.ID} }},
		{"start", func(c *container) { c.mustCreate() }, func(c *container) []string { return []string{"start", c.ID} }},
		{"delete", func(c *container) { c.mustCreate() }, func(c *container) []string { return []string{"delete", "--force", c.ID} }},
		{"exec", func(c *container) { c.mustCreate(); c.mustHull("start", c.ID) },
			func(c *container) []string { return []string{"exec", c.ID, "sleep", "30"} }},
	}
	for _, f := range flows {
		for _, d := range faultDelays {
			t.Run(fmt.Sprintf("%s/%v", f.name, d), func(t *testing.T) {
				c := newContainer(t, func(s *specs.Spec) { s.Process.Args = []string{"sleep", "30"} })
				if f.prepare != nil {
					f.prepare(c)
				}
				c.killAfter(d, f.args(c)...)
				c.recordInit()
				if f.name == "delete" {
					// A killed delete --force, then a retry, as the issue asks.
					c.killAfter(d/2, "delete", "--force", c.ID)
				}
				assertCleanAfterForce(t, c)
			})
		}
	}
}
