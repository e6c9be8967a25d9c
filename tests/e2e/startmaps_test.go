package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// profilerTable is the length of the Go runtime's heap-profile bucket
// table (runtime.buckHashSize pointers), mapped when it records its first
// heap profile sample.
const profilerTable = "1439992"

// straceRun runs `hull run` of c's bundle under strace -f, with env added
// to hull's environment, and returns the mmap and mprotect calls it saw.
func straceRun(t *testing.T, c *container, env ...string) []string {
	t.Helper()
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skipf("needs strace to see the command's mappings: %v", err)
	}
	log := filepath.Join(t.TempDir(), "strace")
	cmd := exec.Command(strace, "-f", "-qq", "-e", "trace=mmap,mprotect", "-o", log,
		c.bin, "--root", c.Root, "run", "--bundle", c.Bundle, c.ID)
	// The runtime reads the first GODEBUG: the test's own go first.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hull run under strace: %v: %s", err, out)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	var calls []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "mmap(") || strings.Contains(line, "mprotect(") {
			calls = append(calls, line)
		}
	}
	return calls
}

// mapsProfilerTable reports whether a call maps the bucket table.
func mapsProfilerTable(calls []string) bool {
	for _, c := range calls {
		if strings.Contains(c, ", "+profilerTable+", ") {
			return true
		}
	}
	return false
}

// callArgs is the address and length arguments of an strace'd mmap or
// mprotect call, and for an mmap the address it returned.
func callArgs(call, name string) (addr, length, ret uint64, ok bool) {
	_, args, found := strings.Cut(call, name+"(")
	if !found {
		return 0, 0, 0, false
	}
	f := strings.Split(args, ", ")
	if len(f) < 2 {
		return 0, 0, 0, false
	}
	addr, _ = strconv.ParseUint(strings.TrimPrefix(f[0], "0x"), 16, 64) // NULL: 0
	length, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, 0, 0, false
	}
	if _, r, found := strings.Cut(args, ") = "); found {
		ret, _ = strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(r), "0x"), 16, 64)
	}
	return addr, length, ret, true
}

// threadStacks is the lengths of the thread stacks the calls mapped:
// glibc maps each with MAP_STACK; musl reserves it PROT_NONE and makes
// all but its guard pages readable and writable with one mprotect. (The
// Go runtime reserves PROT_NONE too, but maps over its reservations.)
func threadStacks(calls []string) []uint64 {
	type region struct{ start, length uint64 }
	var reserved []region
	var stacks []uint64
	for _, call := range calls {
		if _, n, ret, ok := callArgs(call, "mmap"); ok {
			if strings.Contains(call, "MAP_STACK") {
				stacks = append(stacks, n)
			} else if strings.Contains(call, "PROT_NONE") && !strings.Contains(call, "MAP_FIXED") {
				reserved = append(reserved, region{ret, n})
			}
			continue
		}
		if a, n, _, ok := callArgs(call, "mprotect"); ok && strings.Contains(call, "PROT_READ|PROT_WRITE") {
			for _, r := range reserved {
				if a > r.start && a+n == r.start+r.length {
					stacks = append(stacks, r.length)
				}
			}
		}
	}
	return stacks
}

// TestCommandStartMappings: a `hull run` (the command, its C stage and the
// container) makes no malloc arena beyond the main one (internal/threadmem:
// glibc reserves each with PROT_NONE and MAP_NORESERVE, which the Go
// runtime never passes; musl's malloc has no arenas, so against a hull
// linked with musl that check holds by construction), gives its threads small stacks (256 KiB and a
// guard, not RLIMIT_STACK's 8 MiB; see threadStacks), and
// records no heap profile sample (the Makefile's memprofilerate=0). The
// control: with memprofilerate set in GODEBUG, the same run maps the
// profiler's table, so the probe would see it.
func TestCommandStartMappings(t *testing.T) {
	t.Parallel()
	c := newContainer(t, nil)
	c.Spec.Process.Args = []string{"/bin/true"}
	c.writeSpec()
	calls := straceRun(t, c)
	if len(calls) == 0 {
		t.Fatal("strace saw no mmap at all")
	}
	for _, call := range calls {
		if strings.Contains(call, "PROT_NONE") && strings.Contains(call, "MAP_NORESERVE") {
			t.Errorf("a malloc arena was reserved: %s", call)
		}
	}
	// internal/threadmem's 256 KiB, with the C library's guard pages and
	// rounding: glibc maps 260 KiB, musl 268 KiB.
	const stackMin, stackMax = 256 << 10, 272 << 10
	stacks := threadStacks(calls)
	for _, n := range stacks {
		if n < stackMin || n > stackMax {
			t.Errorf("a thread stack of %d bytes, want %d to %d (internal/threadmem's 256 KiB)", n, stackMin, stackMax)
		}
	}
	if len(stacks) == 0 {
		t.Errorf("strace saw no thread stack mapped; the probe no longer sees them")
	}
	if mapsProfilerTable(calls) {
		t.Errorf("the heap profiler's table was mapped (a profile sample was taken)")
	}
	if !mapsProfilerTable(straceRun(t, c, "GODEBUG=memprofilerate=524288")) {
		t.Errorf("control: with GODEBUG=memprofilerate=524288 no mmap of %s bytes was seen; the probe no longer sees the profiler's table", profilerTable)
	}
}

// TestThreadStacksProbe: the probe finds glibc's and musl's thread stacks
// in strace's lines, and not the Go runtime's reservations.
func TestThreadStacksProbe(t *testing.T) {
	for _, tc := range []struct {
		name  string
		calls []string
		want  []uint64
	}{
		{"glibc", []string{
			`mmap(NULL, 266240, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_STACK, -1, 0) = 0x7f2a1c000000`,
		}, []uint64{266240}},
		{"musl", []string{
			`mmap(NULL, 274432, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f38da030000`,
			`mprotect(0x7f38da032000, 266240, PROT_READ|PROT_WRITE) = 0`,
		}, []uint64{274432}},
		{"Go's reservation, mapped over", []string{
			`mmap(NULL, 67108864, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f38d5800000`,
			`mmap(0x7f38d5800000, 4194304, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS, -1, 0) = 0x7f38d5800000`,
		}, nil},
		{"mprotect elsewhere", []string{
			`mmap(NULL, 274432, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f38da030000`,
			`mprotect(0x7f0000002000, 266240, PROT_READ|PROT_WRITE) = 0`,
		}, nil},
	} {
		if got := threadStacks(tc.calls); !slices.Equal(got, tc.want) {
			t.Errorf("%s: threadStacks = %v, want %v", tc.name, got, tc.want)
		}
	}
}
