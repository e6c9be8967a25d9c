package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// residentPages counts the pages of path in the page cache (mincore of a
// mapping of it), and its size in pages.
func residentPages(path string) (resident, total int, err error) {
	data, done, err := mapFile(path)
	if err != nil {
		return 0, 0, err
	}
	defer done()
	vec := make([]byte, (len(data)+os.Getpagesize()-1)/os.Getpagesize())
	// x/sys/unix has no wrapper for mincore.
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&data[0])), uintptr(len(data)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		return 0, 0, fmt.Errorf("mincore %s: %w", path, errno)
	}
	for _, v := range vec {
		resident += int(v & 1)
	}
	return resident, len(vec), nil
}

// A file just written is in the page cache; dropped, none of it is (its
// pages were dirty: without the write-back they would stay); read back,
// all of it is, and mapping it whole takes page faults, at most one a page.
func TestDropFromPageCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bin")
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i)
	}
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	wantResident := func(when string, want int) {
		t.Helper()
		got, total, err := residentPages(path)
		if err != nil {
			t.Fatal(err)
		}
		if want < 0 {
			want = total
		}
		if got != want {
			t.Fatalf("%s: %d of %d pages in the page cache, want %d", when, got, total, want)
		}
	}
	wantResident("written", -1)
	if err := dropFromPageCache(path); err != nil {
		t.Fatal(err)
	}
	wantResident("dropped", 0)
	if _, err := os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	wantResident("read back", -1)
	faults, err := mapFaults(path)
	if err != nil {
		t.Fatal(err)
	}
	if pages := int64(len(data) / os.Getpagesize()); faults < 1 || faults > pages {
		t.Errorf("mapping %d pages took %d faults, want 1..%d", pages, faults, pages)
	}
	if err := dropFromPageCache(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("dropping a missing file: no error")
	}
}

func TestRuntimeFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"hull", "hull-stage", "hull-stubinit", "hullx", "crun"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got := runtimeFiles(filepath.Join(dir, "hull"))
	want := []string{filepath.Join(dir, "hull"), filepath.Join(dir, "hull-stage"), filepath.Join(dir, "hull-stubinit")}
	if !slices.Equal(got, want) {
		t.Errorf("runtimeFiles = %q, want %q", got, want)
	}
	if got := runtimeFiles(filepath.Join(dir, "crun")); !slices.Equal(got, []string{filepath.Join(dir, "crun")}) {
		t.Errorf("runtimeFiles(crun) = %q", got)
	}
}

func TestMapFaultsLine(t *testing.T) {
	b := &bench{rts: []*runtimeUnderTest{
		{name: "hull", mapFaults: 126},
		{name: "crun", missing: "crun not found"},
		{name: "runc", mapErr: errors.New("mmap: EACCES"), dropErr: errors.New("fadvise: EINVAL")},
		{name: "nspawn", mapFaults: 6, dropErr: errors.New("EIO")},
	}}
	want := "hull 126, runc n/a (mmap: EACCES) (not dropped: fadvise: EINVAL), nspawn 6 (not dropped: EIO)"
	if got := b.mapFaultsLine(); got != want {
		t.Errorf("mapFaultsLine = %q, want %q", got, want)
	}
}
