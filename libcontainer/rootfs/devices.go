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
	// One fd of /dev for every node and link made in it, where each used
	// to resolve /dev again.
	dev, err := s.root.ensure("/dev", true, false)
	if err != nil {
		return fmt.Errorf("/dev: %w", err)
	}
	defer unix.Close(dev)
	if err := s.makeDevices(append(defaultDevices(), s.c.Devices...), dev); err != nil {
		return err
	}
	links := [][2]string{
		{"/proc/self/fd", "/dev/fd"}, {"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"},
	}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "/dev/core"})
	}
	for _, l := range links {
		if err := symlinkIn(dev, l[0], l[1]); err != nil {
			return err
		}
	}
	return setupPtmx(dev)
}

// setupPtmx points /dev/ptmx (dev is /dev) at the container's own devpts
// instance so that ptys are allocated there, not on the host's devpts.
func setupPtmx(dev int) error {
	if err := unix.Unlinkat(dev, "ptmx", 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove /dev/ptmx: %w", err)
	}
	if err := unix.Symlinkat("pts/ptmx", dev, "ptmx"); err != nil {
		return fmt.Errorf("symlink /dev/ptmx: %w", err)
	}
	return nil
}

// symlinkIn creates link -> target in the directory dir; an existing entry
// is kept.
func symlinkIn(dir int, target, link string) error {
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

// makeDevices makes devs inside the root: mknod in each one's parent
// directory, or in a user namespace (where mknod is not permitted) a bind
// mount of the host's node onto an empty file. dev is the fd of /dev. The
// parents are resolved (and made) first, with the caller's umask; the
// nodes then with umask 0, cleared once for all of them: so a node gets
// its mode exactly and no chmod by name follows, which a symlink swapped
// in meanwhile could redirect.
func (s *setupper) makeDevices(devs []specs.LinuxDevice, dev int) error {
	dirs := map[string]int{"/dev": dev}
	defer func() {
		for p, fd := range dirs {
			if p != "/dev" {
				unix.Close(fd)
			}
		}
	}()
	for _, d := range devs {
		if err := validateDevice(d); err != nil {
			return fmt.Errorf("device %s: %w", d.Path, err)
		}
		if s.c.InUserNS {
			if err := s.bindDevice(d); err != nil {
				return fmt.Errorf("device %s: %w", d.Path, err)
			}
			continue
		}
		parent := filepath.Dir(filepath.Clean(d.Path))
		if _, ok := dirs[parent]; !ok {
			fd, err := s.root.ensure(parent, true, false)
			if err != nil {
				return fmt.Errorf("device %s: %w", d.Path, err)
			}
			dirs[parent] = fd
		}
	}
	if s.c.InUserNS {
		return nil
	}
	oldMask := unix.Umask(0)
	defer unix.Umask(oldMask)
	for _, d := range devs {
		if err := mknodIn(dirs[filepath.Dir(filepath.Clean(d.Path))], d); err != nil {
			return fmt.Errorf("device %s: %w", d.Path, err)
		}
	}
	return nil
}

// mknodIn makes device d in the directory dir.
func mknodIn(dir int, d specs.LinuxDevice) error {
	mode, err := deviceMode(d)
	if err != nil {
		return err
	}
	name := filepath.Base(d.Path)
	rdev := int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))
	err = unix.Mknodat(dir, name, mode, rdev)
	if errors.Is(err, unix.EEXIST) {
		// Replace whatever the image had there (never a directory).
		if err = unix.Unlinkat(dir, name, 0); err == nil {
			err = unix.Mknodat(dir, name, mode, rdev)
		}
	}
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
