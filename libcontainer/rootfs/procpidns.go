package rootfs

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ProcPidNS reports whether this kernel's proc takes the "pidns" parameter
// (fsconfig FSCONFIG_SET_FD, Linux 6.15): then a process outside a pid
// namespace can mount that namespace's proc. Asked of the kernel each time
// (a few syscalls), since a kernel without it refuses the key.
func ProcPidNS() bool {
	fs, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return false
	}
	defer unix.Close(fs)
	ns, err := unix.Open("/proc/self/ns/pid", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(ns)
	return unix.FsconfigSetFd(fs, "pidns", ns) == nil
}

// msAttrs are the mount(2) flags that are per-mount attributes of fsmount.
var msAttrs = []struct {
	ms   uintptr
	attr int
}{
	{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY}, {unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
	{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV}, {unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
	{unix.MS_NOATIME, unix.MOUNT_ATTR_NOATIME}, {unix.MS_STRICTATIME, unix.MOUNT_ATTR_STRICTATIME},
	{unix.MS_NODIRATIME, unix.MOUNT_ATTR_NODIRATIME},
}

// mountProcOf mounts, on the directory fd, the proc of the pid namespace
// pidns (an fd), with the new mount API: fsopen, the "pidns" key, the
// spec's data options as keys, fsmount with its flags as attributes,
// move_mount onto fd.
func mountProcOf(pidns int, m specs.Mount, o mountOptions, fd int) error {
	fs, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("mount proc on %s: fsopen: %w", m.Destination, err)
	}
	defer unix.Close(fs)
	if err := unix.FsconfigSetFd(fs, "pidns", pidns); err != nil {
		return fmt.Errorf("mount proc on %s: fsconfig pidns: %w", m.Destination, err)
	}
	// mount(2) records its source argument; the new API records none
	// ("none" in mountinfo) unless told, and engines and runtime-tools
	// look for the spec's source there.
	if m.Source != "" {
		if err := unix.FsconfigSetString(fs, "source", m.Source); err != nil {
			return fmt.Errorf("mount proc on %s: fsconfig source %q: %w", m.Destination, m.Source, err)
		}
	}
	for _, d := range o.data {
		k, v, hasValue := strings.Cut(d, "=")
		if hasValue {
			err = unix.FsconfigSetString(fs, k, v)
		} else {
			err = unix.FsconfigSetFlag(fs, k)
		}
		if err != nil {
			return mountError(m, o, err)
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return mountError(m, o, err)
	}
	attrs := 0
	for _, a := range msAttrs {
		if o.flags&a.ms != 0 {
			attrs |= a.attr
		}
	}
	mnt, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return fmt.Errorf("mount proc on %s: fsmount: %w", m.Destination, err)
	}
	defer unix.Close(mnt)
	if err := unix.MoveMount(mnt, "", fd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount proc on %s: move_mount: %w", m.Destination, err)
	}
	return nil
}
