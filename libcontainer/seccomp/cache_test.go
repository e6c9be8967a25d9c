package seccomp

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestCache(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	c, err := NewCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	profile := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno}},
	}
	start := time.Now()
	first, err := c.Compile(profile)
	if err != nil {
		t.Fatal(err)
	}
	compiled := time.Since(start)
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("cache holds %d entries after one compile", len(entries))
	}
	start = time.Now()
	second, err := c.Compile(profile)
	if err != nil || string(second) != string(first) {
		t.Fatalf("cached program differs (%v)", err)
	}
	t.Logf("compile %v, from cache %v", compiled, time.Since(start))

	// Another profile is another entry, never the first's program.
	profile.Syscalls[0].Names = []string{"rmdir"}
	other, err := c.Compile(profile)
	if err != nil || string(other) == string(first) {
		t.Fatalf("a different profile got the same program (%v)", err)
	}
	// A corrupt entry is recompiled, not loaded.
	key, _ := c.key(profile)
	os.WriteFile(filepath.Join(dir, key), []byte("garbage"), 0o600)
	again, err := c.Compile(profile)
	if err != nil || string(again) != string(other) {
		t.Fatalf("corrupt entry not replaced (%v)", err)
	}
}

func TestCacheRefusesOpenDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := NewCache(dir); err == nil {
		t.Fatal("a world-writable cache directory was accepted")
	}
}
