package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func charDev(path string, major, minor int64) specs.LinuxDevice {
	mode := os.FileMode(0o666)
	var zero uint32
	return specs.LinuxDevice{Path: path, Type: "c", Major: major, Minor: minor, FileMode: &mode, UID: &zero, GID: &zero}
}

// defaultDevices are the devices every container gets (config-linux.md).
func defaultDevices() []specs.LinuxDevice {
	return []specs.LinuxDevice{
		charDev("/dev/null", 1, 3), charDev("/dev/zero", 1, 5), charDev("/dev/full", 1, 7),
		charDev("/dev/random", 1, 8), charDev("/dev/urandom", 1, 9), charDev("/dev/tty", 5, 0),
	}
}

// hostDevBound reports whether /dev comes from a host bind mount; then the
// nodes are the host's own and we must not mknod or symlink into them.
func hostDevBound(mounts []specs.Mount) bool {
	for _, m := range mounts {
		if filepath.Clean(m.Destination) != "/dev" {
			continue
		}
		o, err := parseOptions(m.Options)
		if err == nil && isBind(m.Type, o) {
			return true
		}
	}
	return false
}

func (s *setupper) setupDev() error {
	if hostDevBound(s.c.Mounts) {
		return nil
	}
	for _, d := range append(defaultDevices(), s.c.Devices...) {
		if err := s.createDevice(d); err != nil {
			return fmt.Errorf("device %s: %w", d.Path, err)
		}
	}
	links := [][2]string{
		{"/proc/self/fd", "/dev/fd"}, {"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"},
	}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "/dev/core"})
	}
	for _, l := range links {
		if err := s.symlink(l[0], l[1]); err != nil {
			return err
		}
	}
	return s.setupPtmx()
}

// setupPtmx points /dev/ptmx at the container's own devpts instance so that
// ptys are allocated there, not on the host's devpts.
func (s *setupper) setupPtmx() error {
	dir, err := s.root.ensure("/dev", true, false)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	if err := unix.Unlinkat(dir, "ptmx", 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove /dev/ptmx: %w", err)
	}
	if err := unix.Symlinkat("pts/ptmx", dir, "ptmx"); err != nil {
		return fmt.Errorf("symlink /dev/ptmx: %w", err)
	}
	return nil
}

// symlink creates link -> target inside the root; an existing entry is kept.
func (s *setupper) symlink(target, link string) error {
	dir, err := s.root.ensure(filepath.Dir(link), true, false)
	if err != nil {
		return fmt.Errorf("symlink %s: %w", link, err)
	}
	defer unix.Close(dir)
	if err := unix.Symlinkat(target, dir, filepath.Base(link)); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("symlink %s -> %s: %w", link, target, err)
	}
	return nil
}

func deviceMode(d specs.LinuxDevice) (uint32, error) {
	perm := uint32(0o666)
	if d.FileMode != nil {
		perm = uint32(d.FileMode.Perm())
	}
	switch d.Type {
	case "c", "u":
		return unix.S_IFCHR | perm, nil
	case "b":
		return unix.S_IFBLK | perm, nil
	case "p":
		return unix.S_IFIFO | perm, nil
	}
	return 0, fmt.Errorf("type %q: must be one of c, b, u, p", d.Type)
}

// createDevice makes d inside the root: mknod in its parent directory fd, or
// in a user namespace (where mknod is not permitted) a bind mount of the
// host's node onto an empty file.
func (s *setupper) createDevice(d specs.LinuxDevice) error {
	if err := validateDevice(d); err != nil {
		return err
	}
	if s.c.InUserNS {
		return s.bindDevice(d)
	}
	mode, err := deviceMode(d)
	if err != nil {
		return err
	}
	dir, err := s.root.ensure(filepath.Dir(d.Path), true, false)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	name := filepath.Base(d.Path)
	dev := int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))
	// With umask 0 the node gets its mode exactly, so no chmod by name
	// follows, which a symlink swapped in meanwhile could redirect.
	oldMask := unix.Umask(0)
	err = unix.Mknodat(dir, name, mode, dev)
	if errors.Is(err, unix.EEXIST) {
		// Replace whatever the image had there (never a directory).
		if err = unix.Unlinkat(dir, name, 0); err == nil {
			err = unix.Mknodat(dir, name, mode, dev)
		}
	}
	unix.Umask(oldMask)
	if err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	uid, gid := 0, 0
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	if err := unix.Fchownat(dir, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %d:%d: %w", uid, gid, err)
	}
	return nil
}

func (s *setupper) bindDevice(d specs.LinuxDevice) error {
	fd, err := s.root.ensure(d.Path, false, false)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Mount(d.Path, fdPath(fd), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind host %s: %w", d.Path, err)
	}
	return nil
}
