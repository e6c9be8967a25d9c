package console

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// unix98PtySlaveMajor.. are the majors of devpts slaves (Documentation/admin-guide/devices.txt).
const (
	unix98PtySlaveMajor    = 136
	unix98PtySlaveMajorMax = 143
)

// checkPtySlave fails unless f is a pty slave on a devpts file system: a
// planted /dev/ptmx must not make anything else the container's console.
func checkPtySlave(f *os.File) error {
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &sfs); err != nil {
		return fmt.Errorf("pty slave: statfs: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("pty slave: stat: %w", err)
	}
	major := unix.Major(st.Rdev)
	if sfs.Type != unix.DEVPTS_SUPER_MAGIC || st.Mode&unix.S_IFMT != unix.S_IFCHR ||
		major < unix98PtySlaveMajor || major > unix98PtySlaveMajorMax {
		return fmt.Errorf("/dev/ptmx gave no devpts pty (f_type %#x, mode %#o, major %d)", sfs.Type, st.Mode, major)
	}
	return nil
}

// checkPtmx fails unless path leads to a ptmx (char 5:2: a devpts's own,
// or the host's /dev/ptmx where /dev is bound from the host), looked at
// without opening it: opening a device is an action of its own, and the
// runtime that opens it may not be under the container's device cgroup.
func checkPtmx(path string) error {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("%s: stat: %w", path, err)
	}
	if err := IsPtmx(&st); err != nil {
		return fmt.Errorf("%s %w", path, err)
	}
	return nil
}

// IsPtmx checks that st is a pty multiplexer, character device 5:2.
func IsPtmx(st *unix.Stat_t) error {
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 5 || unix.Minor(st.Rdev) != 2 {
		return fmt.Errorf("is no ptmx (mode %#o, dev %d:%d)", st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	return nil
}

// BindDevConsole makes /dev/console the pty slave, bound through the
// slave's own fd (open_tree + move_mount): no name under /dev/pts is
// looked up, so planted /dev/pts/N links cannot redirect it
// (CVE-2025-52565). /dev itself must be a directory; a /dev/console the
// image planted as a symlink, an empty directory, a fifo or a socket is
// removed without being followed and replaced by an empty file; a regular
// file or device is bound over; a non-empty directory is refused.
func BindDevConsole(slave *os.File) error {
	dev, err := unix.Open("/dev", unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("/dev: %w (a symlink is not followed)", err)
	}
	defer unix.Close(dev)
	dst, err := consoleTarget(dev)
	if err != nil {
		return err
	}
	defer unix.Close(dst)
	tree, err := unix.OpenTree(int(slave.Fd()), "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if err != nil {
		return fmt.Errorf("bind pty on /dev/console: open_tree: %w", err)
	}
	defer unix.Close(tree)
	if err := unix.MoveMount(tree, "", dst, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("bind pty on /dev/console: move_mount: %w", err)
	}
	return nil
}

// consoleTarget returns an O_PATH fd on dev/console, a regular file or a
// device, making or replacing it as BindDevConsole says.
func consoleTarget(dev int) (int, error) {
	for range 3 {
		var st unix.Stat_t
		err := unix.Fstatat(dev, "console", &st, unix.AT_SYMLINK_NOFOLLOW)
		switch {
		case errors.Is(err, unix.ENOENT):
			fd, err := unix.Openat(dev, "console", unix.O_CREAT|unix.O_EXCL|unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
			if err != nil && !errors.Is(err, unix.EEXIST) {
				return -1, fmt.Errorf("create /dev/console: %w", err)
			}
			if err == nil {
				unix.Close(fd)
			}
			continue
		case err != nil:
			return -1, fmt.Errorf("/dev/console: %w", err)
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG, unix.S_IFCHR:
			return openTarget(dev, st)
		case unix.S_IFDIR:
			if err := unix.Unlinkat(dev, "console", unix.AT_REMOVEDIR); err != nil {
				return -1, fmt.Errorf("/dev/console is a directory in the image and cannot be removed: %w", err)
			}
		default:
			if err := unix.Unlinkat(dev, "console", 0); err != nil {
				return -1, fmt.Errorf("/dev/console (mode %#o) in the image cannot be removed: %w", st.Mode, err)
			}
		}
	}
	return -1, errors.New("/dev/console keeps changing")
}

// openTarget opens dev/console without following it and checks it is
// still the file that was looked at.
func openTarget(dev int, want unix.Stat_t) (int, error) {
	fd, err := unix.Openat(dev, "console", unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open /dev/console: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Dev != want.Dev || st.Ino != want.Ino {
		unix.Close(fd)
		return -1, fmt.Errorf("/dev/console changed while it was opened (%v)", err)
	}
	return fd, nil
}
