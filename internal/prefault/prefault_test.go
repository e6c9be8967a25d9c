package prefault

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// readOnlyImage lists the mappings of the running program's own binary that
// hold its read-only segments, from /proc/self/maps (not the RELRO page of
// its writable segment, which the dynamic loader or libc wrote to first).
func readOnlyImage(t *testing.T) [][2]uint64 {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer bin.Close()
	// The segments by address; bias is where the first one was loaded
	// (0 for hull, linked at fixed addresses; set below for a PIE).
	var bias uint64
	readOnly := func(lo, hi uint64) bool {
		for _, p := range bin.Progs {
			if p.Type == elf.PT_LOAD && p.Flags&elf.PF_W == 0 &&
				bias+p.Vaddr&^0xfff <= lo && hi <= bias+p.Vaddr+p.Memsz+0xfff {
				return true
			}
		}
		return false
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	var ranges [][2]uint64
	for _, line := range strings.Split(string(maps), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[5] != exe {
			continue
		}
		var lo, hi, offset uint64
		if _, err := fmt.Sscanf(f[0]+" "+f[2], "%x-%x %x", &lo, &hi, &offset); err != nil {
			t.Fatalf("maps line %q: %v", line, err)
		}
		if offset == 0 && len(ranges) == 0 {
			for _, p := range bin.Progs {
				if p.Type == elf.PT_LOAD {
					bias = lo - p.Vaddr&^0xfff
					break
				}
			}
		}
		if readOnly(lo, hi) {
			ranges = append(ranges, [2]uint64{lo, hi})
		}
	}
	if len(ranges) == 0 {
		t.Fatalf("no read-only segment of %s in /proc/self/maps", exe)
	}
	return ranges
}

// missingPages counts the pages of [lo, hi) not mapped in this process
// (bit 63 of each /proc/self/pagemap entry: present).
func missingPages(t *testing.T, lo, hi uint64) int {
	t.Helper()
	pagemap, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer pagemap.Close()
	page := uint64(os.Getpagesize())
	entries := make([]byte, (hi-lo)/page*8)
	if _, err := pagemap.ReadAt(entries, int64(lo/page*8)); err != nil {
		t.Fatalf("pagemap of %#x-%#x: %v", lo, hi, err)
	}
	missing := 0
	for i := 0; i < len(entries); i += 8 {
		if binary.LittleEndian.Uint64(entries[i:])>>63 == 0 {
			missing++
		}
	}
	return missing
}

// hull_prefault_image maps every page of the binary's code and read-only
// data: the test first unmaps them from this process (MADV_DONTNEED drops a
// file mapping's page table entries; the next touch faults them back in),
// so that pages are missing, then calls it. (That the constructor calls it
// in hull is tested end to end: TestHullImagePrefaulted.)
func TestImageMapped(t *testing.T) {
	ranges := readOnlyImage(t)
	missing := func() (n int) {
		for _, r := range ranges {
			n += missingPages(t, r[0], r[1])
		}
		return n
	}
	for _, r := range ranges {
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(r[0]), uintptr(r[1]-r[0]), unix.MADV_DONTNEED); errno != 0 {
			t.Fatalf("madvise(%#x-%#x, MADV_DONTNEED): %v", r[0], r[1], errno)
		}
	}
	if n := missing(); n == 0 {
		t.Fatal("no page missing after MADV_DONTNEED: the test cannot tell")
	}
	image()
	if n := missing(); n > 0 {
		t.Errorf("%d pages of the binary's read-only mappings not mapped after hull_prefault_image", n)
	}
}

// hull_prefault_image reports the bytes it mapped: the binary's loadable
// segments that are not writable, in whole pages.
func TestImageBytes(t *testing.T) {
	exe, err := elf.Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer exe.Close()
	page := uint64(os.Getpagesize())
	var want uint64
	for _, p := range exe.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_W == 0 {
			want += (p.Vaddr+p.Memsz+page-1)&^(page-1) - p.Vaddr&^(page-1)
		}
	}
	if got := image(); got <= 0 || uint64(got) != want {
		t.Errorf("hull_prefault_image mapped %d bytes; the binary's read-only segments are %d", got, want)
	}
}
