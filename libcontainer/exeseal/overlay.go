package exeseal

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// overlayBinary opens exe through a new detached overlayfs mount whose only
// layers are exe's directory over layer, with no upper layer; or, when stage
// is not empty and names an executable file in exe's directory, that file
// through the same mount (the bool says which).
//
// Why overlay and not a read-only bind (open_tree(OPEN_TREE_CLONE) and
// mount_setattr(MOUNT_ATTR_RDONLY)), which would cost the same: a bind's
// read-only flag belongs to the mount, and a detached mount has no parent,
// so the kernel lets whoever holds CAP_SYS_ADMIN over its (the host's) user
// namespace clear that flag with mount_setattr given any path on it —
// /proc/PID/exe of a process started from it is one, within reach of a
// privileged container. An overlay without an upper layer is read-only in
// its superblock: clearing the mount's flag leaves every write failing
// with EROFS, and it refuses a read-write remount (TestOverlaySuperblockReadOnly).
//
// The mount goes away with the last file opened from it: the returned one
// and the processes executing it. The mount's own fd is returned too, for
// the caller to close once the process is started: closing the last fd of
// a detached mount dissolves it, and the kernel waits for an RCU grace
// period there (25-40 µs here), which the parent then spends while the
// child runs rather than before the fork.
func overlayBinary(exe, stage, layer string) (*os.File, int, bool, error) {
	dir, name := filepath.Split(exe)
	ctx, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, -1, false, fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(ctx)
	// The first lower layer is the top one: exe's name resolves there.
	lower := escapeLayer(dir) + ":" + escapeLayer(layer)
	if err := unix.FsconfigSetString(ctx, "lowerdir", lower); err != nil {
		return nil, -1, false, fmt.Errorf("overlay lowerdir=%s: %w", lower, err)
	}
	// xino would be enabled when the layers are on different filesystems
	// and only logs to dmesg here: no error if the kernel lacks the option.
	_ = unix.FsconfigSetString(ctx, "xino", "off")
	if err := unix.FsconfigCreate(ctx); err != nil {
		return nil, -1, false, fmt.Errorf("create overlay of %s: %w", lower, err)
	}
	attrs := unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOSUID
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return nil, -1, false, fmt.Errorf("fsmount overlay of %s: %w", lower, err)
	}
	// Only a stage beside hull: looked up in the overlay, a name missing
	// from hull's directory would fall through to layer.
	if stage != "" && isExecutable(filepath.Join(dir, stage)) {
		if fd, err := unix.Openat(mnt, stage, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0); err == nil {
			var st unix.Stat_t
			if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o111 != 0 {
				return os.NewFile(uintptr(fd), filepath.Join(dir, stage)), mnt, true, nil
			}
			unix.Close(fd)
		}
	}
	fd, err := unix.Openat(mnt, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(mnt)
		return nil, -1, false, fmt.Errorf("open %s in overlay of %s: %w", name, lower, err)
	}
	return os.NewFile(uintptr(fd), exe), mnt, false, nil
}

// escapeLayer escapes what overlayfs' lowerdir option would read as a
// layer separator (":") or an escape ("\").
func escapeLayer(path string) string {
	if !strings.ContainsAny(path, `\:`) {
		return path
	}
	return strings.ReplaceAll(strings.ReplaceAll(path, `\`, `\\`), `:`, `\:`)
}
