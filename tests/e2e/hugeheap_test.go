package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The hull command's Go heap is advised for huge pages (internal/hugeheap):
// a `hull run` waiting for its container has an anonymous read-write
// mapping flagged "hg" in its smaps, and none with GODEBUG=disablethp=1.
func TestHullHeapHugePages(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage"); err != nil {
		t.Skipf("this kernel has no transparent huge pages: %v", err)
	}
	for _, godebug := range []string{"", "disablethp=1"} {
		t.Run("GODEBUG="+godebug, func(t *testing.T) {
			c := newContainer(t, func(s *specs.Spec) { s.Process.Args = sh("sleep 30") })
			c.env = []string{"GODEBUG=" + godebug}
			p := c.runUntilRunning()
			defer p.wait()
			defer c.hull("kill", c.ID, "KILL")
			advised, err := hugeAdvisedMappings(p.cmd.Process.Pid)
			if err != nil {
				t.Fatal(err)
			}
			if want := godebug == ""; (advised > 0) != want {
				t.Errorf("hull run has %d anonymous mappings advised for huge pages; want some: %v", advised, want)
			}
		})
	}
}

// hugeAdvisedMappings counts pid's anonymous read-write mappings whose
// VmFlags include "hg" (MADV_HUGEPAGE).
func hugeAdvisedMappings(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return 0, err
	}
	n, anonRW := 0, false
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && strings.Contains(f[0], "-") && len(f[1]) == 4 {
			anonRW = f[1] == "rw-p" && len(f) == 5
			continue
		}
		if anonRW && len(f) > 0 && f[0] == "VmFlags:" {
			for _, flag := range f[1:] {
				if flag == "hg" {
					n++
				}
			}
		}
	}
	return n, nil
}
