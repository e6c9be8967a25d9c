package onearena

import "testing"

// TestOneArena: the test binary's own threads (the Go runtime's, each of
// which called malloc once) and eight more that each call malloc share the
// main arena. Without the constructor the test binary has five arenas
// before the test starts. (A control in this process is not possible:
// glibc fixes its arena limit at the first arena it makes.)
func TestOneArena(t *testing.T) {
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
