// Package rootfs builds a container's filesystem from an OCI runtime spec:
// root, mounts, devices, rootfsPropagation, maskedPaths, readonlyPaths.
//
// It runs in the container's init process, already inside the container's
// new mount namespace (and possibly a user namespace), in three steps:
//
// Prepare (host root still visible):
//  1. Validate everything (propagation, mount destinations, device types)
//     so a bad config fails before anything is mounted.
//  2. Make "/" rslave (or linux.rootfsPropagation when set). This comes
//     first: the namespace started as a copy of the host's, and until its
//     mounts stop being shared, every mount below could appear on the host.
//  3. If the mount holding the rootfs is shared, make it private, since
//     pivot_root refuses a new root whose parent mount is shared.
//  4. Bind the rootfs onto itself (recursively): pivot_root needs a mount
//     point, and it gives the container its own mount to set flags on.
//  5. Perform the spec mounts in order; later ones may land inside earlier
//     ones (/dev then /dev/pts).
//  6. Create the devices (default ones, then linux.devices), the /dev
//     symlinks and /dev/ptmx -> pts/ptmx, unless /dev is a host bind.
//     This is after the mounts because /dev is normally a tmpfs mount.
//
// Pivot: pivot_root(".", ".") into the rootfs and lazily detach the old root
// after making it rslave (so the detach cannot reach the host), or with
// NoPivot move the rootfs onto "/" and chroot.
//
// Finalize (after Pivot, "/" is the container's root):
//  1. readonlyPaths: recursive read-only binds of each path onto itself.
//  2. maskedPaths: directories get an empty read-only tmpfs, other files a
//     bind of /dev/null. Readonly paths come first so that a masked path
//     below a read-only one is still masked on top.
//  3. root.readonly: the root mount becomes read-only. This is late because
//     the steps above create mount points and files.
//  4. linux.rootfsPropagation is applied to "/" again, now that all mounts
//     exist (the propagation of mounts made before it is what counts).
//
// # Safety
//
// The rootfs and everything in it is untrusted: an image can contain
// symlinks such as "etc -> /etc" or "x -> ../../..", and a volume shared with
// another container can change while we work. So no path inside the rootfs
// is ever joined to the host path and handed to a path-based syscall.
// Instead every path is resolved with openat2(2) RESOLVE_IN_ROOT against an
// fd of the rootfs, which makes the kernel treat the rootfs as "/" for
// symlinks and "..". Missing components are created one at a time with
// mkdirat/openat relative to fds obtained the same way, expanding symlinks
// relative to the root. The mount is then made onto the resulting fd
// (mount(2) on /proc/self/fd/N, after checking /proc is procfs, or
// move_mount(2) with the new mount API), so there is no gap between
// checking a path and using it.
//
// Further checks: proc and sysfs may not be mounted through a symlink (else a
// /proc redirected elsewhere would escape maskedPaths, CVE-2019-19921);
// paths below /proc that get masked or made read-only are resolved from a
// /proc verified to be procfs, without symlinks; the /dev/null used for
// masking must be a character device 1:3; device paths may not climb above
// "/" with "..".
package rootfs
