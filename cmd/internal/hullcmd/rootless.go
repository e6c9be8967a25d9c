package hullcmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/rawfile"
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
