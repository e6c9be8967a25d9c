package e2e

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hull maps its binary's code and read-only data whole at start
// (internal/prefault): a `hull run` waiting for its container has every
// page of them mapped, although the command touches only part of its
// read-only data (without the prefault, about a fifth of it is missing).
func TestHullImagePrefaulted(t *testing.T) {
	c := newContainer(t, func(s *specs.Spec) { s.Process.Args = sh("sleep 30") })
	p := c.runUntilRunning()
	defer p.wait()
	defer c.hull("kill", c.ID, "KILL")
	assertImageMapped(t, "hull run", p.cmd.Process.Pid)
}

// The Go init maps its binary at start too: the C stage's process, which
// execs or exits inside nsenter's constructor, leaves the populate to the
// process that goes on into Go (constructor priorities 101 and 102), and
// the process it clones inherits none of its page tables for the binary.
func TestGoInitImagePrefaulted(t *testing.T) {
	c := newContainer(t, func(s *specs.Spec) { s.Process.Args = []string{"true"} })
	c.env = []string{"HULL_GO_INIT=1"}
	c.mustCreate()
	defer c.hull("delete", "--force", c.ID)
	assertImageMapped(t, "Go init", c.state().Pid) // waiting for start
}

// assertImageMapped fails the test unless process pid (what) has every page
// of hull's read-only segments mapped.
func assertImageMapped(t *testing.T, what string, pid int) {
	t.Helper()
	ranges, err := readOnlySegments(pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ranges {
		missing, err := pagesMissing(pid, r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		if missing > 0 {
			t.Errorf("%s (pid %d): %d of %d pages of %#x-%#x not mapped", what, pid, missing, (r[1]-r[0])/4096, r[0], r[1])
		}
	}
}

// readOnlySegments returns the address ranges of the hull binary's
// loadable segments that are not writable, as mapped in pid (hull is
// linked at fixed addresses: its program headers give them).
func readOnlySegments(pid int) ([][2]uint64, error) {
	bin, err := elf.Open(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return nil, err
	}
	defer bin.Close()
	if bin.Type != elf.ET_EXEC {
		return nil, fmt.Errorf("hull is %v, not linked at fixed addresses: this test reads its segments' addresses from the file", bin.Type)
	}
	var ranges [][2]uint64
	for _, p := range bin.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_W == 0 {
			ranges = append(ranges, [2]uint64{p.Vaddr &^ 0xfff, (p.Vaddr + p.Memsz + 0xfff) &^ 0xfff})
		}
	}
	if len(ranges) == 0 {
		return nil, fmt.Errorf("no read-only loadable segment in hull")
	}
	return ranges, nil
}

// pagesMissing counts the pages of [lo, hi) that pid has not mapped (bit 63
// of a /proc/PID/pagemap entry: present).
func pagesMissing(pid int, lo, hi uint64) (int, error) {
	pagemap, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", pid))
	if err != nil {
		return 0, err
	}
	defer pagemap.Close()
	entries := make([]byte, (hi-lo)/4096*8)
	if _, err := pagemap.ReadAt(entries, int64(lo/4096*8)); err != nil {
		return 0, fmt.Errorf("pagemap of pid %d at %#x-%#x: %w", pid, lo, hi, err)
	}
	missing := 0
	for i := 0; i < len(entries); i += 8 {
		if binary.LittleEndian.Uint64(entries[i:])>>63 == 0 {
			missing++
		}
	}
	return missing, nil
}
