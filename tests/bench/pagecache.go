package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// How a binary got into the page cache changes what every command of it
// costs here: a file written in big writes sits in large folios, and
// mapping hull's binary whole takes 11 page faults and 0.1 ms; written by
// the Go linker (through a mapping) or read back from disk, as after a
// boot, it sits in small ones and takes ~125 faults and 0.5 ms, and a
// `run` costs 1-2 ms more CPU. So the bench drops every runtime's files
// from the page cache before it starts them: all three are then read
// from disk by their first command, as after a boot, whoever wrote them
// last. The header says how many faults mapping each binary then takes.

// runtimeFiles are the files a runtime's commands execute: its binary
// and the helpers installed beside it under its name (hull-stage,
// hull-stubinit, hull-nspawn).
func runtimeFiles(binary string) []string {
	helpers, _ := filepath.Glob(binary + "-*")
	return append([]string{binary}, helpers...)
}

// dropFromPageCache writes path's dirty pages back and drops its pages
// from the page cache; pages a running process maps stay.
func dropFromPageCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return fmt.Errorf("fdatasync %s: %w", path, err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("fadvise %s DONTNEED: %w", path, err)
	}
	return nil
}

// mapFaults maps path whole, has the kernel map every page of it
// (MADV_POPULATE_READ) and returns the page faults that took, minor and major: about one per
// 64 KiB (the kernel's fault-around) in small folios, one per folio in
// large ones.
func mapFaults(path string) (int64, error) {
	data, done, err := mapFile(path)
	if err != nil {
		return 0, err
	}
	defer done()
	// The thread's own counts: the other threads' faults stay out.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var before, after unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &before); err != nil {
		return 0, err
	}
	if err := unix.Madvise(data, unix.MADV_POPULATE_READ); err != nil {
		return 0, fmt.Errorf("madvise %s POPULATE_READ: %w", path, err)
	}
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &after); err != nil {
		return 0, err
	}
	// Pages not yet in the page cache are read from disk: major faults.
	return after.Minflt - before.Minflt + after.Majflt - before.Majflt, nil
}

func mapFile(path string) (data []byte, done func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if st.Size() == 0 {
		return nil, nil, fmt.Errorf("%s: empty", path)
	}
	data, err = unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	return data, func() { unix.Munmap(data) }, nil
}
