package main

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/rawfile"
	"github.com/hull-runtime/hull/nspawnconv"
)

// rootlessMode resolves --rootless as runc does: "auto" is rootless for an
// unprivileged caller, or for uid 0 in a user namespace that does not map
// the host's root (rootless podman runs the runtime so).
func rootlessMode(flag string, euid int, uidMap string) (bool, error) {
	switch flag {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "auto", "":
		return euid != 0 || !mapsHostRoot(uidMap), nil
	}
	return false, fmt.Errorf("--rootless %q: must be auto, true or false", flag)
}

// mapsHostRoot reports whether a uid_map maps host uid 0 (the initial user
// namespace maps everything, so it does).
func mapsHostRoot(uidMap string) bool {
	for _, line := range strings.Split(uidMap, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		host, err1 := strconv.ParseUint(f[1], 10, 32)
		size, err2 := strconv.ParseUint(f[2], 10, 33)
		if err1 == nil && err2 == nil && host == 0 && size > 0 {
			return true
		}
	}
	return false
}

// readUIDMap reads /proc/self/uid_map with plain syscalls (rawfile): every
// command reads it, and os.ReadFile would first set up the runtime's poller
// for it, which most commands need for nothing else.
func readUIDMap() ([]byte, error) {
	return rawfile.ReadSmall("/proc/self/uid_map", 4096)
}

// isRootless is the resolved --rootless of the running command
// (setupRootless resolved "auto" already; the map is read only without it).
func isRootless(c *cli.Context) bool {
	var uidMap []byte
	if flag := c.String("rootless"); flag == "auto" || flag == "" {
		uidMap, _ = readUIDMap()
	}
	r, _ := rootlessMode(c.String("rootless"), os.Geteuid(), string(uidMap))
	return r
}

// setupRootless checks --rootless and, when rootless without an explicit
// --root, moves the state root to $XDG_RUNTIME_DIR/hull: the user's own,
// never shared with root's /run/hull (which the user cannot write anyway).
func setupRootless(c *cli.Context) error {
	uidMap, err := readUIDMap()
	if err != nil {
		return fmt.Errorf("rootless detection: %w", err)
	}
	rootless, err := rootlessMode(c.String("rootless"), os.Geteuid(), string(uidMap))
	if err != nil {
		return err
	}
	// Resolved once: isRootless then reads the flag, not uid_map again.
	if err := c.Set("rootless", strconv.FormatBool(rootless)); err != nil {
		return err
	}
	if !rootless || c.IsSet("root") {
		return nil
	}
	xdg := os.Getenv("XDG_RUNTIME_DIR")
	if xdg == "" || !filepath.IsAbs(xdg) {
		if c.Args().First() == "spec" {
			return nil
		}
		return errors.New("rootless: $XDG_RUNTIME_DIR is not set (or not absolute): set it to the user's runtime directory or pass --root DIR")
	}
	return c.Set("root", filepath.Join(xdg, "hull"))
}

// checkStateRoot refuses a state root that exists but is not the caller's
// own 0700 directory: a rootless user must not share state (nor the
// seccomp cache beside it) with anyone.
func checkStateRoot(root string) error {
	for _, p := range []string{root, filepath.Clean(root) + ".cache"} {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			continue
		}
		if int(st.Uid) != os.Geteuid() || st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Mode&0o077 != 0 {
			return fmt.Errorf("rootless: state directory %s must be a directory owned by uid %d with mode 0700 (owner %d, mode %o)", p, os.Geteuid(), st.Uid, st.Mode&0o7777)
		}
	}
	return nil
}

// rootlessIDs gives an unprivileged caller's ids and its subordinate
// ranges for `hull nspawn -U`/`hull convert -U`; nil for root.
func rootlessIDs() (*nspawnconv.RootlessIDs, error) {
	if os.Geteuid() == 0 {
		return nil, nil
	}
	u, err := user.LookupId(strconv.Itoa(os.Geteuid()))
	if err != nil {
		return nil, fmt.Errorf("unprivileged machine: who am I: %w", err)
	}
	r := &nspawnconv.RootlessIDs{UID: uint32(os.Geteuid()), GID: uint32(os.Getegid())}
	r.SubUID, r.SubUIDN = subRange("/etc/subuid", u.Username, os.Geteuid())
	r.SubGID, r.SubGIDN = subRange("/etc/subgid", u.Username, os.Geteuid())
	return r, nil
}

// subRange is the first range of name (or uid) in an /etc/subuid-style
// file; 0, 0 when there is none (the conversion then says so).
func subRange(file, name string, uid int) (start, n uint32) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) != 3 || (f[0] != name && f[0] != strconv.Itoa(uid)) {
			continue
		}
		s, err1 := strconv.ParseUint(f[1], 10, 32)
		c, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 == nil && err2 == nil {
			return uint32(s), uint32(c)
		}
	}
	return 0, 0
}

// nspawnBundleDir is where `hull nspawn` keeps its temporary bundles: the
// caller's runtime directory when unprivileged.
func nspawnBundleDir() (string, error) {
	if os.Geteuid() == 0 {
		return nspawnBundles, nil
	}
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if !filepath.IsAbs(dir) {
		return "", errors.New("hull nspawn unprivileged: $XDG_RUNTIME_DIR is not set (or not absolute): it holds the machine's bundle")
	}
	return filepath.Join(dir, "hull-nspawn"), nil
}
