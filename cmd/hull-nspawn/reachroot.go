package main

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// reachableRoot makes the machine's directory reachable from a user
// namespace: hull binds the root inside the container's namespaces, where
// the host's root is nobody, so a directory under a parent others cannot
// search (machined makes /var/lib/machines 0700) would be refused. nspawn
// binds it before entering the namespace; hull binds it, when needed, to
// BUNDLE/rootfs (0755 parents) and converts from there. The returned
// function undoes the bind.
func reachableRoot(a *hullArgs) (func(), error) {
	nothing := func() {}
	if os.Geteuid() != 0 {
		// No mount without root: the caller's tree must be reachable.
		return nothing, nil
	}
	s, _, err := loadSettings(*a)
	if err != nil || s.Help {
		return nothing, nil // convertMachine reports it
	}
	dir := s.Directory
	if dir == "" && s.Image == "" {
		if dir, err = defaultDirectory(s.Machine, machineSearchPath); err != nil {
			return nothing, nil
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil || dir == "" || searchable(filepath.Dir(abs)) {
		return nothing, nil
	}
	target := filepath.Join(a.bundle, "rootfs")
	if err := os.Mkdir(target, 0o755); err != nil {
		return nothing, err
	}
	if err := unix.Mount(abs, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return nothing, fmt.Errorf("bind %s to %s (its parent is not searchable from a user namespace): %w", abs, target, err)
	}
	a.rootfs = target
	return func() {
		if err := unix.Unmount(target, unix.MNT_DETACH); err != nil {
			fmt.Fprintf(os.Stderr, "hull: warning: unmount %s: %v\n", target, err)
		}
	}, nil
}

// searchable reports whether every directory from / to dir lets others
// search it (o+x).
func searchable(dir string) bool {
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil || st.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == "/" {
			return true
		}
	}
}
