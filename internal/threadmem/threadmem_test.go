package threadmem

import (
	"runtime"
	"testing"
)

// TestOneArena: the test binary's own threads (the Go runtime's, each of
// which called malloc once) and eight more that each call malloc share the
// main arena. Without the constructor the test binary has five arenas
// before the test starts. (A control in this process is not possible:
// glibc fixes its arena limit at the first arena it makes.)
func TestOneArena(t *testing.T) {
	if !hasArenas {
		t.Skip("this C library's malloc has no per-thread arenas (musl): nothing to limit")
	}
	if n := arenas(); n != 1 {
		t.Fatalf("at start: %d arenas, want 1", n)
	}
	if mallocOnNewThreads(8) != 0 {
		t.Fatal("could not start threads")
	}
	if n := arenas(); n != 1 {
		t.Errorf("after 8 threads called malloc: %d arenas, want 1", n)
	}
}

// The main goroutine keeps the main thread, whose stack is the process's:
// the tests' goroutines run on threads the runtime started.
func init() { runtime.LockOSThread() }

// threadTopSlack: musl reports a thread's stack up to a few KiB larger
// than it was asked for (its page rounding); glibc reports the size asked.
const threadTopSlack = 4 << 10

// TestThreadStacks: a thread the Go runtime starts has a stack of
// threadStack bytes (without the constructor: RLIMIT_STACK, 8 MiB here,
// under glibc; 128 KiB under musl).
func TestThreadStacks(t *testing.T) {
	got := make(chan int64)
	for i := 0; i < 4; i++ {
		// A goroutine locked to its thread that exits without
		// unlocking ends the thread: the next one gets a new thread.
		go func() {
			runtime.LockOSThread()
			got <- threadStackSize()
		}()
		if n := <-got; n < threadStack || n > threadStack+threadTopSlack {
			t.Errorf("a runtime thread's stack is %d bytes, want %d (to %d)", n, threadStack, threadStack+threadTopSlack)
		}
	}
}
