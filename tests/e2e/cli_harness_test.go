package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cliRuntimes are the runtimes a command-line parity test runs against:
// hull, and runc as the control when it is installed.
func cliRuntimes(t *testing.T) []string {
	rts := []string{"hull"}
	if _, err := exec.LookPath("runc"); err == nil {
		rts = append(rts, "runc")
	} else {
		t.Logf("runc not installed: hull alone, without the control")
	}
	return rts
}

// newRuntimeContainer is newContainer driven by rt ("hull" or "runc"):
// the same bundle, state root and cleanup, run by that binary.
func newRuntimeContainer(t *testing.T, rt string, edit func(*specs.Spec)) *container {
	t.Helper()
	c := newContainer(t, edit)
	if rt == "runc" {
		bin, err := exec.LookPath("runc")
		if err != nil {
			t.Skip("runc not installed")
		}
		c.bin = bin
	}
	return c
}

// sleeper is an edit that makes the container's process wait, so that it
// stays running for the test.
func sleeper(s *specs.Spec) { s.Process.Args = []string{"sleep", "60"} }

// runDetached starts the container in the background with its flags after
// the id, as scripts written for runc do, and records its init.
func (c *container) runDetached() {
	c.t.Helper()
	r := c.hull("run", c.ID, "--detach", "--bundle", c.Bundle)
	if r.Code != 0 {
		c.t.Fatalf("%s", r)
	}
	c.recordInit()
}

// readCgroupFile reads a file of the container's cgroup in a v1 hierarchy.
func readCgroupFile(t *testing.T, cgroup, hierarchy, file string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", hierarchy, cgroup, file))
	if err != nil {
		t.Fatalf("cgroup file: %v", err)
	}
	return strings.TrimSpace(string(data))
}

// needV1 skips unless the v1 hierarchy hierarchy exists and has file.
func needV1(t *testing.T, hierarchy, file string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", hierarchy, file)); err != nil {
		t.Skipf("needs cgroup v1 %s/%s (this host: %v); the guest covers cgroup v2", hierarchy, file, err)
	}
}

// waitStopped waits until the container's status is stopped.
func (c *container) waitStopped() {
	c.t.Helper()
	if !waitUntil(10*time.Second, func() bool { return c.state().Status == "stopped" }) {
		c.t.Fatalf("container %s did not stop", c.ID)
	}
}

// startSquatter puts a host process (sleep) in cgroup in every hierarchy,
// making the directories, before the container exists; it is killed and
// reaped when the test ends, before the container's cleanup runs.
func startSquatter(t *testing.T, cgroup string) {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	// The v1 hierarchies: the hybrid's cgroup2 (unified) is left alone.
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/cgroup.procs")
	for _, f := range roots {
		root := filepath.Dir(f)
		if filepath.Base(root) == "unified" {
			continue
		}
		dir := root + cgroup
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if filepath.Base(root) == "cpuset" {
			if err := fillCpuset(filepath.Dir(dir), dir); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
			t.Fatalf("squatter into %s: %v", dir, err)
		}
	}
}
