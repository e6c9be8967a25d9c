package hugeheap

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestHeapChunk(t *testing.T) {
	const (
		rw    = unix.PROT_READ | unix.PROT_WRITE
		fixed = unix.MAP_FIXED | unix.MAP_ANONYMOUS | unix.MAP_PRIVATE
		huge  = 2 << 20
	)
	for _, c := range []struct {
		name  string
		addr  uintptr
		len   uint64
		prot  int
		flags int
		want  bool
	}{
		{"the runtime's sysMap of a 4 MiB chunk", 64 * huge, 2 * huge, rw, fixed, true},
		{"one huge page", huge, huge, rw, fixed, true},
		{"smaller than a huge page", huge, huge - 4096, rw, fixed, false},
		{"not aligned to a huge page", huge + 4096, 2 * huge, rw, fixed, false},
		{"not fixed (a reservation or a stack)", huge, 2 * huge, rw, unix.MAP_ANONYMOUS | unix.MAP_PRIVATE, false},
		{"reserved, not usable", huge, 2 * huge, unix.PROT_NONE, fixed, false},
		{"executable", huge, 2 * huge, rw | unix.PROT_EXEC, fixed, false},
		{"shared", huge, 2 * huge, rw, unix.MAP_FIXED | unix.MAP_ANONYMOUS | unix.MAP_SHARED, false},
		{"a file", huge, 2 * huge, rw, unix.MAP_FIXED | unix.MAP_PRIVATE, false},
	} {
		if got := heapChunk(c.addr, c.len, c.prot, c.flags); got != c.want {
			t.Errorf("%s: heapChunk = %v, want %v", c.name, got, c.want)
		}
	}
}

// vmFlags returns the VmFlags of the mapping that holds addr.
func vmFlags(t *testing.T, addr uintptr) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 {
			in = lo <= addr && addr < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.Fields(strings.TrimPrefix(line, "VmFlags:"))
		}
	}
	t.Fatalf("no mapping holds %#x", addr)
	return nil
}

// A fresh heap chunk is advised for huge pages, unless GODEBUG=disablethp=1
// (then the runtime advises it against them). The check runs in a child, so
// that the chunk is mapped with the environment given.
func TestHeapAdvised(t *testing.T) {
	if os.Getenv("HUGEHEAP_CHILD") != "" {
		big := make([]byte, 16<<20) // more than the first chunk holds: a new one is mapped
		flags := vmFlags(t, uintptr(unsafe.Pointer(&big[0])))
		want, unwanted := "hg", "nh"
		if strings.Contains(os.Getenv("GODEBUG"), "disablethp=1") {
			want, unwanted = unwanted, want
		}
		if !slices.Contains(flags, want) || slices.Contains(flags, unwanted) {
			t.Fatalf("heap chunk VmFlags %v: want %q and not %q", flags, want, unwanted)
		}
		return
	}
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage"); err != nil {
		t.Skipf("this kernel has no transparent huge pages: %v", err)
	}
	for _, godebug := range []string{"", "disablethp=1"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHeapAdvised$", "-test.v")
		cmd.Env = append(os.Environ(), "HUGEHEAP_CHILD=1", "GODEBUG="+godebug)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("GODEBUG=%q: %v\n%s", godebug, err, out)
		}
	}
}
