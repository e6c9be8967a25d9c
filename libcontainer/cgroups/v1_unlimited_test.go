package cgroups

import (
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestUnlimitedSwapV1: an unlimited memory limit with no swap named gets
// an unlimited memsw, as runc gives it, but only where memsw exists.
func TestUnlimitedSwapV1(t *testing.T) {
	withSwap, noSwap := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(withSwap, "memory.memsw.limit_in_bytes"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dir         string
		limit, swap *int64
		want        string
	}{
		{withSwap, i64p(-1), nil, "-1"},
		{withSwap, i64p(-1), i64p(0), "-1"},
		{withSwap, i64p(-1), i64p(64 << 20), "67108864"},
		{withSwap, i64p(32 << 20), nil, "nil"},
		{withSwap, nil, nil, "nil"},
		{noSwap, i64p(-1), nil, "nil"},
	} {
		got := "nil"
		if s := unlimitedSwapV1(tc.dir, tc.limit, tc.swap); nz(s) {
			got = i64(*s)
		}
		if got != tc.want {
			t.Errorf("limit %s, swap %s, memsw %v: swap %s, want %s", deref(tc.limit), deref(tc.swap),
				tc.dir == withSwap, got, tc.want)
		}
	}
}

// TestV1MemoryUnlimitedAfterSwap: on a real cgroup with memory and memsw
// limited, a memory limit of -1 alone lifts both (the kernel refused the
// memory limit alone: memsw would be below it).
func TestV1MemoryUnlimitedAfterSwap(t *testing.T) {
	m := newTestV1(t, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(100 << 20), Swap: i64p(200 << 20)}})
	dir := m.paths["memory"]
	if !fileExists(dir, "memory.memsw.limit_in_bytes") {
		t.Skip("no swap accounting (memory.memsw.limit_in_bytes)")
	}
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(-1)}}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"} {
		v, err := readUint(dir, f)
		if err != nil {
			t.Fatal(err)
		}
		// The kernel shows unlimited as the largest page-aligned value.
		if v < 1<<62 {
			t.Errorf("%s = %d, want unlimited", f, v)
		}
	}
}
