package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// keepUnitCgroups prepares nspawn's --keep-unit layout on a cgroup v2 host:
// the machine lives in the caller's own (delegated) unit cgroup instead of
// a scope of its own. A cgroup with processes cannot have children with
// controllers, so, as nspawn does, hull moves itself into
// UNIT/supervisor and returns UNIT/payload as the machine's cgroup.
// "" (nothing done) on a host without a unified hierarchy.
func keepUnitCgroups() (string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		return "", nil
	}
	own, err := ownCgroup2()
	if err != nil {
		return "", err
	}
	if filepath.Base(own) == "supervisor" {
		own = filepath.Dir(own) // moved there already (a re-run in the same unit)
	}
	if own == "/" {
		return "", fmt.Errorf("--keep-unit: hull runs in the root cgroup, not in a unit")
	}
	sup := filepath.Join("/sys/fs/cgroup", own, "supervisor")
	if err := os.MkdirAll(sup, 0o755); err != nil {
		return "", fmt.Errorf("--keep-unit: %w", err)
	}
	if err := os.WriteFile(filepath.Join(sup, "cgroup.procs"), []byte("0"), 0o644); err != nil {
		return "", fmt.Errorf("--keep-unit: move hull into %s (is the unit Delegate=yes?): %w", sup, err)
	}
	return filepath.Join(own, "payload"), nil
}

// ownCgroup2 is this process's cgroup in the unified hierarchy.
func ownCgroup2() (string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("/proc/self/cgroup: no cgroup v2 entry")
}

// hasFlag reports whether an nspawn command line has one of the
// value-less flags before its command.
func hasFlag(args []string, flags ...string) bool {
	if i := slices.Index(args, "--"); i >= 0 {
		args = args[:i]
	}
	return slices.ContainsFunc(args, func(a string) bool { return slices.Contains(flags, a) })
}
