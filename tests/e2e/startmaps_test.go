package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// profilerTable is the length of the Go runtime's heap-profile bucket
// table (runtime.buckHashSize pointers), mapped when it records its first
// heap profile sample.
const profilerTable = "1439992"

// straceRun runs `hull run` of c's bundle under strace -f, with env added
// to hull's environment, and returns the mmap calls it saw.
func straceRun(t *testing.T, c *container, env ...string) []string {
	t.Helper()
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skipf("needs strace to see the command's mappings: %v", err)
	}
	log := filepath.Join(t.TempDir(), "strace")
	cmd := exec.Command(strace, "-f", "-qq", "-e", "trace=mmap", "-o", log,
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
		if strings.Contains(line, "mmap(") {
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

// mmapLength is the length argument of an strace'd mmap call.
func mmapLength(call string) (int64, bool) {
	_, args, ok := strings.Cut(call, "mmap(")
	if !ok {
		return 0, false
	}
	f := strings.Split(args, ", ")
	if len(f) < 2 {
		return 0, false
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	return n, err == nil
}

// TestCommandStartMappings: a `hull run` (the command, its C stage and the
// container) makes no malloc arena beyond the main one (internal/threadmem:
// glibc reserves each with PROT_NONE and MAP_NORESERVE, which the Go
// runtime never passes), gives its threads small stacks (MAP_STACK
// mappings of 256 KiB and a guard page, not RLIMIT_STACK's 8 MiB), and
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
	stacks := 0
	for _, call := range calls {
		if strings.Contains(call, "PROT_NONE") && strings.Contains(call, "MAP_NORESERVE") {
			t.Errorf("a malloc arena was reserved: %s", call)
		}
		if strings.Contains(call, "MAP_STACK") {
			stacks++
			if n, ok := mmapLength(call); !ok || n > 1<<20 {
				t.Errorf("a thread stack of more than 1 MiB: %s", call)
			}
		}
	}
	if stacks == 0 {
		t.Errorf("strace saw no thread stack mapped (MAP_STACK); the probe no longer sees them")
	}
	if mapsProfilerTable(calls) {
		t.Errorf("the heap profiler's table was mapped (a profile sample was taken)")
	}
	if !mapsProfilerTable(straceRun(t, c, "GODEBUG=memprofilerate=524288")) {
		t.Errorf("control: with GODEBUG=memprofilerate=524288 no mmap of %s bytes was seen; the probe no longer sees the profiler's table", profilerTable)
	}
}
