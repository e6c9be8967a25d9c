package cgroups

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/rawfile"
)

// writeFile writes value into an existing cgroup control file. Control files
// are never created: a missing one means the kernel lacks the feature.
func writeFile(dir, name, value string) error {
	p := filepath.Join(dir, name)
	fd, err := openControl(p, unix.O_WRONLY|unix.O_TRUNC)
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", value, p, err)
	}
	defer unix.Close(fd)
	if err := writeControl(fd, value); err != nil {
		return fmt.Errorf("write %q to %s: %w", value, p, err)
	}
	return nil
}

// openControl opens a cgroup control file as a plain blocking fd. Not
// os.OpenFile: cgroupfs files are pollable, so an *os.File registers each
// with the runtime's poller, five more syscalls per open (fcntl twice,
// epoll_ctl, and on close epoll_ctl and fcntl), for files that never block.
func openControl(p string, flags int) (int, error) {
	for {
		fd, err := unix.Open(p, flags|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// writeControl writes value in one write(2): cgroupfs takes each write as
// one whole value (one rule, for devices.allow).
func writeControl(fd int, value string) error {
	for {
		n, err := unix.Write(fd, []byte(value))
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return err
		case n != len(value):
			return io.ErrShortWrite
		}
		return nil
	}
}

func readFile(dir, name string) (string, error) {
	p := filepath.Join(dir, name)
	b, err := readControl(p)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	return string(b), nil
}

// readControl reads a whole cgroup control file (see openControl).
func readControl(p string) ([]byte, error) {
	fd, err := openControl(p, unix.O_RDONLY)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	defer unix.Close(fd)
	return rawfile.ReadFD(fd, p)
}

func fileExists(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}

// readUint reads a single number; "max" and the v1 "unlimited" values map to
// math.MaxUint64 via parseUint.
func readUint(dir, name string) (uint64, error) {
	s, err := readFile(dir, name)
	if err != nil {
		return 0, err
	}
	v, err := parseUint(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", filepath.Join(dir, name), err)
	}
	return v, nil
}

func parseUint(s string) (uint64, error) {
	if s == "max" {
		return ^uint64(0), nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		// Negative values (e.g. -1 in cfs_quota_us) read as "no value".
		if i, ierr := strconv.ParseInt(s, 10, 64); ierr == nil && i < 0 {
			return 0, nil
		}
		return 0, err
	}
	return v, nil
}

// readKeyValues parses "key value" lines (memory.stat, cpu.stat, ...).
func readKeyValues(dir, name string) (map[string]uint64, error) {
	s, err := readFile(dir, name)
	if err != nil {
		return nil, err
	}
	m := make(map[string]uint64)
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		n, err := parseUint(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("parse %s line %q: %w", filepath.Join(dir, name), sc.Text(), err)
		}
		m[k] = n
	}
	return m, nil
}

// readProcs reads the pids of a cgroup.procs file.
func readProcs(dir string) ([]int, error) {
	s, err := readFile(dir, "cgroup.procs")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(s) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("parse %s: bad pid %q", filepath.Join(dir, "cgroup.procs"), f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// walkPids collects the pids of dir and all cgroups below it.
func walkPids(dir string) ([]int, error) {
	var pids []int
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			// A sub-cgroup removed while walking is not an error.
			if errors.Is(err, os.ErrNotExist) && p != dir {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		got, err := readProcs(p)
		if err != nil && !(errors.Is(err, os.ErrNotExist) && p != dir) {
			return err
		}
		pids = append(pids, got...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list processes of %s: %w", dir, err)
	}
	return pids, nil
}

// removeCgroupDir removes dir and every cgroup below it, deepest first.
// cgroupfs directories are removed with rmdir even though they list control
// files. A missing dir is success; EBUSY (a process still exiting) is retried
// for about a second.
//
// rmdir is tried before the directory is listed: a cgroup without
// children (the usual container's, in each of up to a dozen v1
// hierarchies) goes in one syscall, where listing its few dozen control
// files first took four more and the kernel's work of making the entries.
// Only EBUSY (children, or processes; ENOTEMPTY off cgroupfs) makes it
// look for children.
func removeCgroupDir(dir string) error {
	err := unix.Rmdir(dir)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.ENOTEMPTY) {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeCgroupDir(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	delay := 5 * time.Millisecond
	for i := 0; ; i++ {
		err = unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || i == 7 {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		time.Sleep(delay)
		delay *= 2
	}
}

// parseBlkioEntries parses "maj:min Op value" lines, skipping totals.
func parseBlkioEntries(s string) []BlkioEntry {
	var out []BlkioEntry
	sc := bufio.NewScanner(bytes.NewBufferString(s))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] == "Total" {
			continue
		}
		maj, min, ok := strings.Cut(f[0], ":")
		if !ok {
			continue
		}
		var e BlkioEntry
		var err1, err2, err3 error
		e.Major, err1 = strconv.ParseUint(maj, 10, 64)
		e.Minor, err2 = strconv.ParseUint(min, 10, 64)
		if len(f) == 3 {
			e.Op = f[1]
		}
		e.Value, err3 = strconv.ParseUint(f[len(f)-1], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		out = append(out, e)
	}
	return out
}
