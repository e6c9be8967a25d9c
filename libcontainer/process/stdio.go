package process

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// ChownStdio gives the process's stdio (fds 0-2) to uid before it becomes
// that user, as runc does: a pty or pipe made by the runtime or an engine
// belongs to root, and a process running as another user could not reopen
// it through /proc/self/fd or /dev/stdout, nor use its terminal. The group
// is kept (a pty's is devpts' gid=, usually tty). Only what is the
// container's to own is given: an anonymous pipe or a socket (reachable
// through its fds alone) and the process's controlling terminal (the pty the
// runtime made for it). A terminal or file of the caller's that a
// foreground run or exec hands on as it is (runc puts pipes in between)
// stays its owner's: chowning the host's terminal to the container's user
// would let that uid on the host write into it. Stdio already owned by uid
// is left alone; so is stdio the runtime may not chown (EPERM: its owner
// is not mapped in the user namespace; EINVAL: its group is not).
func ChownStdio(uid int) error {
	for fd := 0; fd < 3; fd++ {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			if errors.Is(err, unix.EBADF) {
				continue
			}
			return fmt.Errorf("stat stdio fd %d: %w", fd, err)
		}
		if !needsChown(st, uid, isControllingTerminal(fd), IsAnonymousPipe(fd)) {
			continue
		}
		err := unix.Fchown(fd, uid, int(st.Gid))
		if err != nil && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("chown stdio fd %d to uid %d: %w", fd, uid, err)
		}
	}
	return nil
}

// ReopenDevNull makes stdio that is a /dev/null other than the container's
// own (the caller's redirect, conmon's stdin) the container's, as runc's
// reOpenDevNull does (finish.c's reopen_dev_null is the C finisher's): it
// reads and writes the same, and nothing of the container then holds a
// file of a host mount, which criu could not checkpoint. A container
// without a /dev/null that is the null device keeps what it was given.
func ReopenDevNull() error {
	null := -1
	var own unix.Stat_t
	defer func() {
		if null >= 0 {
			unix.Close(null)
		}
	}()
	for fd := 0; fd < 3; fd++ {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil || !isNullDevice(st) {
			continue
		}
		if null < 0 {
			var err error
			if null, err = unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0); err != nil {
				return nil
			}
			if unix.Fstat(null, &own) != nil || !isNullDevice(own) {
				return nil
			}
		}
		if st.Dev == own.Dev && st.Ino == own.Ino {
			continue
		}
		if err := unix.Dup3(null, fd, 0); err != nil {
			return fmt.Errorf("reopen stdio fd %d on the container's /dev/null: %w", fd, err)
		}
	}
	return nil
}

func isNullDevice(st unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == unix.Mkdev(1, 3)
}

// isControllingTerminal: fd is the calling process's controlling terminal
// (TIOCGSID answers only for that one, or a pty master).
func isControllingTerminal(fd int) bool {
	_, err := unix.IoctlGetInt(fd, unix.TIOCGSID)
	return err == nil
}

// IsAnonymousPipe: fd is a pipe(2), not a FIFO with a name on a
// filesystem (which a chown would change on the host).
func IsAnonymousPipe(fd int) bool {
	var fs unix.Statfs_t
	return unix.Fstatfs(fd, &fs) == nil && fs.Type == unix.PIPEFS_MAGIC
}

// needsChown: st is an anonymous pipe (anon) or a socket, or the
// controlling terminal (ctty), not owned by uid yet.
func needsChown(st unix.Stat_t, uid int, ctty, anon bool) bool {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFSOCK:
	case unix.S_IFIFO:
		if !anon {
			return false
		}
	case unix.S_IFCHR:
		if !ctty {
			return false
		}
	default:
		return false
	}
	return int(st.Uid) != uid
}
