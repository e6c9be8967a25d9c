package rootfs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/rawfile"
	"github.com/hull-runtime/hull/libcontainer/mountinfo"
)

// mountCgroup makes a "cgroup" spec mount. On a cgroup v2 host that is a
// cgroup2 mount. On v1 it is a tmpfs holding one directory per v1
// hierarchy: with a cgroup namespace each hierarchy is mounted fresh (the
// namespace already limits the view), without one the container's own
// cgroup directory is bind-mounted so it cannot see the rest of the host's.
func (s *setupper) mountCgroup(m specs.Mount, o mountOptions) error {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return fmt.Errorf("mount cgroup on %s: statfs /sys/fs/cgroup: %w", m.Destination, err)
	}
	if m.Type == "cgroup2" || st.Type == unix.CGROUP2_SUPER_MAGIC {
		return s.mountCgroup2(m, o)
	}
	return s.mountCgroup1(m, o)
}

func (s *setupper) mountCgroup2(m specs.Mount, o mountOptions) error {
	m2 := m
	m2.Type, m2.Source = "cgroup2", "cgroup2"
	err := s.mountFS(m2, o)
	if errors.Is(err, unix.EBUSY) {
		// The destination is the root of a cgroup2 mount already (the
		// host's, through a rootless config's /sys rbind), and the kernel
		// refuses the same superblock there again. A tmpfs in between
		// makes it another mount point; the new mount still shows the
		// container's own cgroup namespace.
		tmp := specs.Mount{Destination: m.Destination, Type: "tmpfs", Source: "tmpfs"}
		if terr := s.mountFS(tmp, mountOptions{flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, data: []string{"mode=755"}}); terr != nil {
			return fmt.Errorf("%w (a tmpfs under it: %v)", err, terr)
		}
		err = s.mountFS(m2, o)
	}
	if err == nil || s.c.CgroupNS || !errors.Is(err, unix.EPERM) {
		return err
	}
	// Without a cgroup namespace a user namespace may not mount cgroup2;
	// bind our own cgroup instead so the container still sees its limits.
	self, err2 := ownCgroups(s.c.procFile("cgroup"))
	if err2 != nil {
		return fmt.Errorf("%w (fallback: %v)", err, err2)
	}
	bind := specs.Mount{Destination: m.Destination, Source: filepath.Join("/sys/fs/cgroup", self[""])}
	return s.mountBind(bind, mountOptions{flags: o.flags | unix.MS_BIND | unix.MS_REC})
}

// v1Hierarchy is one mounted cgroup v1 hierarchy of the host.
type v1Hierarchy struct {
	mountpoint string // e.g. /sys/fs/cgroup/cpu
	root       string // root of the hierarchy visible at mountpoint
	subsys     string // controllers as in /proc/self/cgroup: "cpu,cpuacct", "name=systemd"
}

// CgroupV1Ahead is the init's view of a cgroup v1 host, its hierarchies
// and its own cgroups, read on a goroutine of its own from the start of a
// build (ReadCgroupV1Ahead): the two /proc reads (a third of a
// millisecond) then overlap the mounts before the cgroup one. Neither
// file changes during the build as far as it is read: the build's own
// mounts come after the host's in mountinfo, and the first mount of each
// hierarchy is the one taken.
type CgroupV1Ahead struct {
	done chan struct{}
	hier []v1Hierarchy
	self map[string]string
	err  error
}

// ReadCgroupV1Ahead starts reading the mountinfo and cgroup files of pid.
// Both show cgroup paths relative to the reader's cgroup namespace: the
// caller must be in the one the build runs in (the container has none of
// its own).
func ReadCgroupV1Ahead(pid int) *CgroupV1Ahead {
	a := &CgroupV1Ahead{done: make(chan struct{})}
	go func() {
		defer close(a.done)
		dir := fmt.Sprintf("/proc/%d/", pid)
		if a.hier, a.err = v1Hierarchies(dir + "mountinfo"); a.err == nil {
			a.self, a.err = ownCgroups(dir + "cgroup")
		}
	}()
	return a
}

// cgroupV1 is the view for a cgroup mount: read ahead, or now.
func (s *setupper) cgroupV1() ([]v1Hierarchy, map[string]string, error) {
	if a := s.c.CgroupV1; a != nil {
		<-a.done
		return a.hier, a.self, a.err
	}
	hier, err := v1Hierarchies(s.c.procFile("mountinfo"))
	if err != nil {
		return nil, nil, err
	}
	self, err := ownCgroups(s.c.procFile("cgroup"))
	return hier, self, err
}

func (s *setupper) mountCgroup1(m specs.Mount, o mountOptions) error {
	hier, self, err := s.cgroupV1()
	if err != nil {
		return err
	}
	// The tmpfs stays writable until its subdirectories exist; ro comes last.
	tmpfs := specs.Mount{Destination: m.Destination, Type: "tmpfs", Source: "tmpfs"}
	tmpOpts := mountOptions{flags: o.flags &^ unix.MS_RDONLY, data: []string{"mode=755"}}
	if err := s.mountFS(tmpfs, tmpOpts); err != nil {
		return fmt.Errorf("cgroup %s: %w", m.Destination, err)
	}
	// Everything below is made relative to the new tmpfs: empty and
	// reachable from nowhere else, it holds no symlink to resolve, and its
	// place was checked when it was mounted.
	top, err := s.openNewTmpfs(m.Destination)
	if err != nil {
		return fmt.Errorf("cgroup %s: %w", m.Destination, err)
	}
	defer unix.Close(top)
	for _, h := range hier {
		if err := s.mountHierarchy(top, m.Destination, h, self, o); err != nil {
			return fmt.Errorf("cgroup %s: %w", m.Destination, err)
		}
	}
	if o.flags&unix.MS_RDONLY == 0 {
		return nil
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(top, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		return fmt.Errorf("cgroup %s: make tmpfs read-only: %w", m.Destination, err)
	}
	return nil
}

// mountHierarchy mounts hierarchy h on a new directory of the tmpfs top
// (at dest): a fresh cgroup mount in a cgroup namespace, else a bind of
// the init's own cgroup in it.
func (s *setupper) mountHierarchy(top int, dest string, h v1Hierarchy, self map[string]string, o mountOptions) error {
	name := filepath.Base(h.mountpoint)
	sub := filepath.Join(dest, name)
	fd, err := newDirIn(top, name)
	switch {
	case errors.Is(err, unix.EEXIST):
		// Two hierarchies of one base name, or one named like a link
		// of a co-mounted one: the path way, as for any mount.
		err = s.mountHierarchyAt(sub, h, self, o)
	case err != nil:
		return fmt.Errorf("%s: %w", sub, err)
	case s.c.CgroupNS:
		cg := specs.Mount{Destination: sub, Type: "cgroup", Source: "cgroup"}
		err = mountNew(cg, mountOptions{flags: o.flags, data: []string{h.subsys}}, o.flags, fd)
	default:
		err = s.bindHierarchy(top, fd, sub, h, self, o.flags)
	}
	if fd >= 0 {
		unix.Close(fd)
	}
	if err != nil {
		return err
	}
	// Co-mounted controllers ("cpu,cpuacct") are also reachable by each name.
	if strings.Contains(name, ",") {
		for _, c := range strings.Split(name, ",") {
			if err := symlinkIn(top, name, filepath.Join(dest, c)); err != nil {
				return err
			}
		}
	}
	return nil
}

// newDirIn makes directory name in dir and opens it, following nothing.
func newDirIn(dir int, name string) (int, error) {
	if err := unix.Mkdirat(dir, name, 0o755); err != nil {
		return -1, fmt.Errorf("mkdir: %w", err)
	}
	how := stepHow
	how.Flags |= unix.O_DIRECTORY
	fd, err := unix.Openat2(dir, name, &how)
	if err != nil {
		return -1, fmt.Errorf("open: %w", err)
	}
	return fd, nil
}

// mountHierarchyAt mounts hierarchy h at sub resolved from the root.
func (s *setupper) mountHierarchyAt(sub string, h v1Hierarchy, self map[string]string, o mountOptions) error {
	if s.c.CgroupNS {
		cg := specs.Mount{Destination: sub, Type: "cgroup", Source: "cgroup"}
		return s.mountFS(cg, mountOptions{flags: o.flags, data: []string{h.subsys}})
	}
	src, err := ownHierarchyDir(h, self, s.c.procFile("cgroup"))
	if err != nil {
		return err
	}
	return s.mountBind(specs.Mount{Destination: sub, Source: src}, mountOptions{flags: o.flags | unix.MS_BIND})
}

// ownHierarchyDir is the host path of the init's own cgroup in h.
func ownHierarchyDir(h v1Hierarchy, self map[string]string, file string) (string, error) {
	path, ok := self[h.subsys]
	if !ok {
		return "", fmt.Errorf("hierarchy %s (%s) missing from %s", h.mountpoint, h.subsys, file)
	}
	relPath, err := filepath.Rel(h.root, path)
	if err != nil || strings.HasPrefix(relPath, "..") {
		return "", fmt.Errorf("own cgroup %s is outside %s (root %s)", path, h.mountpoint, h.root)
	}
	return filepath.Join(h.mountpoint, relPath), nil
}

// bindHierarchy binds the init's own cgroup of hierarchy h on fd, the
// directory sub in the tmpfs top, with flags (a bind takes them in a
// second, remounting call).
func (s *setupper) bindHierarchy(top, fd int, sub string, h v1Hierarchy, self map[string]string, flags uintptr) error {
	src, err := ownHierarchyDir(h, self, s.c.procFile("cgroup"))
	if err != nil {
		return err
	}
	if err := unix.Mount(src, fdPath(fd), "", unix.MS_BIND|flags&unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind mount %s on %s: %w", src, sub, err)
	}
	if flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) == 0 {
		return nil
	}
	// Opened again: fd names the directory under the new mount.
	how := stepHow
	how.Flags |= unix.O_DIRECTORY
	mnt, err := unix.Openat2(top, filepath.Base(sub), &how)
	if err != nil {
		return fmt.Errorf("remount %s: %w", sub, err)
	}
	defer unix.Close(mnt)
	return remountFd(mnt, sub, flags)
}

// v1Hierarchies lists the host's cgroup v1 mounts from mountinfo, one per
// hierarchy.
func v1Hierarchies(mountinfo string) ([]v1Hierarchy, error) {
	mounts, err := readMountinfoOf(mountinfo, "cgroup")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []v1Hierarchy
	for _, mi := range mounts {
		if mi.fstype != "cgroup" {
			continue
		}
		var ss []string
		for _, opt := range strings.Split(mi.superOpts, ",") {
			if opt == "rw" || opt == "ro" || strings.HasPrefix(opt, "release_agent=") || opt == "xattr" || opt == "clone_children" || opt == "noprefix" || opt == "cpuset_v2_mode" || opt == "nsdelegate" {
				continue
			}
			ss = append(ss, opt)
		}
		key := strings.Join(ss, ",")
		if key == "" || seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, v1Hierarchy{mountpoint: mi.mountpoint, root: mi.root, subsys: key})
	}
	if len(out) == 0 {
		return nil, errors.New("no cgroup v1 hierarchy mounted on the host")
	}
	return out, nil
}

// ownCgroups maps "cpu,cpuacct" (or "name=systemd", or "" for v2) to the
// init's cgroup path in that hierarchy, read from file (/proc/PID/cgroup).
func ownCgroups(file string) (map[string]string, error) {
	data, err := rawfile.ReadSmall(file, 4096)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) == 3 {
			out[parts[1]] = parts[2]
		}
	}
	return out, sc.Err()
}

type mountEntry struct {
	mountpoint, root, fstype, superOpts, optional string
}

func readMountinfo(path string) ([]mountEntry, error) { return readMountinfoOf(path, "") }

// readMountinfoOf is readMountinfo of the mounts of file system type
// fstype only ("": all); other lines are skipped before being split.
func readMountinfoOf(path, fstype string) ([]mountEntry, error) {
	data, err := readProcFile(path)
	if err != nil {
		return nil, err
	}
	var out []mountEntry
	for _, line := range strings.Split(string(data), "\n") {
		if fstype != "" {
			// The optional fields end with " - ", the type follows.
			i := strings.Index(line, " - ")
			if i < 0 || !strings.HasPrefix(line[i+3:], fstype+" ") {
				continue
			}
		}
		f := strings.Fields(line)
		sep := -1
		for i, x := range f {
			if x == "-" {
				sep = i
				break
			}
		}
		if sep < 6 || len(f) < sep+4 || fstype != "" && f[sep+1] != fstype {
			continue
		}
		out = append(out, mountEntry{
			root:       mountinfo.Unescape(f[3]),
			mountpoint: mountinfo.Unescape(f[4]),
			optional:   strings.Join(f[6:sep], " "),
			fstype:     f[sep+1],
			superOpts:  f[sep+3],
		})
	}
	return out, nil
}

// readProcFile reads a /proc file whole. os.ReadFile starts from the
// size stat gives, 0 there, and grows its buffer from 512 bytes: five
// reads of a mountinfo the kernel generates anew for each. One buffer
// that fits a usual mountinfo takes one read and the closing empty one;
// a plain fd, not os.Open, which would register it with the poller.
func readProcFile(path string) ([]byte, error) {
	return rawfile.ReadSmall(path, 16<<10)
}
