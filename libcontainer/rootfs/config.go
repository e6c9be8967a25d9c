package rootfs

import (
	"fmt"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Config describes the container's filesystem as the OCI spec gives it.
type Config struct {
	Rootfs        string // absolute host path of the container's root directory
	Readonly      bool   // root.readonly
	Mounts        []specs.Mount
	Propagation   string // linux.rootfsPropagation
	Devices       []specs.LinuxDevice
	MaskedPaths   []string
	ReadonlyPaths []string
	NoPivot       bool // MS_MOVE + chroot instead of pivot_root
	InUserNS      bool // device nodes are bind-mounted from the host, not mknod'ed
	UIDMappings   []specs.LinuxIDMapping
	GIDMappings   []specs.LinuxIDMapping
	CgroupNS      bool // the container has its own cgroup namespace
	// Pid is the container's init when another process builds its rootfs
	// (hull create, from a thread in the init's namespaces): its /proc
	// entries describe the container's cgroups and mounts, where
	// /proc/self would describe the builder's. 0: the caller is the init.
	Pid int
	// PidNS, when > 0, is an fd of the pid namespace new proc mounts
	// belong to (fsconfig "pidns"): a builder outside that namespace
	// would otherwise mount the proc of its own.
	PidNS int
	// CgroupV1, when set, is the init's view of a cgroup v1 host read
	// ahead by the caller; nil: a cgroup mount reads it when made.
	CgroupV1 *CgroupV1Ahead
	// IdmappedTrees are fds, by index in Mounts, of the detached ID-mapped
	// copies of idmap mounts' sources that hull create made (IdmappedTree):
	// mapping a mount takes privilege over the source's filesystem, which
	// an init in a user namespace lacks. The mount moves the copy into place.
	IdmappedTrees map[int]int
}

// procFile is the /proc file name of the container's init.
func (c *Config) procFile(name string) string {
	if c.Pid > 0 {
		return fmt.Sprintf("/proc/%d/%s", c.Pid, name)
	}
	return "/proc/self/" + name
}

var propagationFlags = map[string]uintptr{
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// rootPropagation returns the flags for linux.rootfsPropagation; 0 for "".
func (c *Config) rootPropagation() (uintptr, error) {
	if c.Propagation == "" {
		return 0, nil
	}
	f, ok := propagationFlags[c.Propagation]
	if !ok {
		return 0, fmt.Errorf("linux.rootfsPropagation %q: unknown propagation (want shared, slave, private, unbindable or their r- variants)", c.Propagation)
	}
	return f, nil
}

// validate rejects bad input before anything is mounted, so an error never
// leaves a half-built rootfs behind.
func (c *Config) validate() error {
	if !filepath.IsAbs(c.Rootfs) {
		return fmt.Errorf("root.path %q: must be an absolute host path", c.Rootfs)
	}
	if _, err := c.rootPropagation(); err != nil {
		return err
	}
	for i, m := range c.Mounts {
		if !filepath.IsAbs(m.Destination) {
			return fmt.Errorf("mounts[%d].destination %q: must be absolute", i, m.Destination)
		}
		if _, err := parseOptions(m.Options); err != nil {
			return fmt.Errorf("mounts[%d] (%s): %w", i, m.Destination, err)
		}
	}
	for i, d := range c.Devices {
		if err := validateDevice(d); err != nil {
			return fmt.Errorf("linux.devices[%d]: %w", i, err)
		}
	}
	for i, p := range c.MaskedPaths {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("linux.maskedPaths[%d] %q: must be absolute", i, p)
		}
	}
	for i, p := range c.ReadonlyPaths {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("linux.readonlyPaths[%d] %q: must be absolute", i, p)
		}
	}
	return nil
}

func validateDevice(d specs.LinuxDevice) error {
	switch d.Type {
	case "c", "u", "b", "p":
	default:
		return fmt.Errorf("type %q of %q: must be one of c, b, u, p", d.Type, d.Path)
	}
	if !filepath.IsAbs(d.Path) {
		return fmt.Errorf("path %q: must be absolute", d.Path)
	}
	if escapesLexically(d.Path) {
		return fmt.Errorf("path %q: resolves outside the container root", d.Path)
	}
	if filepath.Clean(d.Path) == "/" {
		return fmt.Errorf("path %q: cannot be the root", d.Path)
	}
	return nil
}

// escapesLexically reports whether ".." components climb above "/".
func escapesLexically(p string) bool {
	depth := 0
	for _, c := range split(p) {
		if c == ".." {
			if depth--; depth < 0 {
				return true
			}
		} else {
			depth++
		}
	}
	return false
}
