package process

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// devNull is /dev/null's device number (char 1:3).
var devNull = unix.Mkdev(1, 3)

// ChownStdio gives the process's stdio (fds 0-2) to uid before it becomes
// that user, as runc does: a pty or pipe made by the runtime belongs to
// root, and a process running as another user could not reopen it through
// /proc/self/fd or /dev/stdout, nor use its terminal. The group is kept (a
// pty's is devpts' gid=, usually tty). /dev/null and stdio already owned by
// uid are left alone; so is stdio the runtime may not chown (EPERM: its owner
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
		if !needsChown(st, uid) {
			continue
		}
		err := unix.Fchown(fd, uid, int(st.Gid))
		if err != nil && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("chown stdio fd %d to uid %d: %w", fd, uid, err)
		}
	}
	return nil
}

// needsChown: st is not /dev/null and not owned by uid yet.
func needsChown(st unix.Stat_t, uid int) bool {
	if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == devNull {
		return false
	}
	return int(st.Uid) != uid
}
