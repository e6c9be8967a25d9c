package cgroups

import (
	"errors"
	"fmt"
	"path"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Driver names the implementation behind a Manager; it is persisted in State
// so that Load picks the same one that created the cgroup.
type Driver string

const (
	DriverV1      Driver = "cgroupfs-v1"
	DriverV2      Driver = "cgroupfs-v2"
	DriverSystemd Driver = "systemd"
)

// Config describes the cgroup a container gets.
type Config struct {
	// Path is linux.cgroupsPath: "/a/b" (absolute) or "a/b" (relative to the
	// caller's own cgroup) for cgroupfs drivers, "slice:prefix:name" for systemd.
	Path string
	// ID is the container id, used for the default path "/hull/<ID>".
	ID string
	// Resources are applied by Create; nil means none.
	Resources *specs.LinuxResources
	// Systemd selects the systemd driver (--systemd-cgroup).
	Systemd bool
	// Rootless makes the systemd driver use the caller's own systemd (the
	// user manager), as runc does; and it leaves out, on a hybrid v1
	// host, the unified hierarchy:
	// moving a process there needs write access to the common ancestor of
	// its old and new cgroup (the kernel's v2 delegation rule), and a
	// delegated v1 tree does not give that. runc leaves it out too.
	Rootless bool
}

// State is what hull persists so that a later command can Load the manager.
type State struct {
	Driver Driver `json:"driver"`
	// Path is the resolved cgroup path (absolute, "/"-rooted) when one path
	// holds for all hierarchies.
	Path string `json:"path"`
	// Paths maps each v1 controller (and "name=systemd") to its directory.
	Paths map[string]string `json:"paths,omitempty"`
	// Dir is the directory of the cgroup on the unified (v2) hierarchy.
	Dir string `json:"dir,omitempty"`
	// SystemdUser is the host uid whose user manager holds the scope
	// (rootless --systemd-cgroup); 0 for the system manager.
	SystemdUser int `json:"systemdUser,omitempty"`
}

// Manager controls one container's cgroup, whichever driver is behind it.
type Manager interface {
	// Create makes the cgroup in every hierarchy and applies the configured
	// resources; on failure it removes the directories it made.
	Create() error
	// ProcsFiles lists the cgroup.procs files a process writes "0" into to
	// join the cgroup (one per v1 hierarchy, one on v2), sorted.
	ProcsFiles() []string
	// Apply moves pid into the cgroup.
	Apply(pid int) error
	// Set applies r on top of the current settings (hull update).
	Set(r *specs.LinuxResources) error
	// Pids lists every process in the cgroup and its descendants.
	Pids() ([]int, error)
	// Signal sends sig to every process in the cgroup, freezing it meanwhile
	// so that forks cannot escape.
	Signal(sig unix.Signal) error
	Freeze() error
	Thaw() error
	Frozen() (bool, error)
	Stats() (*Stats, error)
	// OOMKillCount is how many processes the kernel OOM killer has killed in
	// the cgroup.
	OOMKillCount() (uint64, error)
	// NotifyOOM returns a channel that receives a value on each OOM event and
	// is closed when done is closed or the cgroup is removed.
	NotifyOOM(done <-chan struct{}) (<-chan struct{}, error)
	// Destroy removes the cgroup's leaf directory (and any sub-cgroups under
	// it) in every hierarchy. Intermediate directories are left, as runc does.
	Destroy() error
	State() State
}

// ErrNotImplemented reports a driver that this build does not provide yet.
var ErrNotImplemented = errors.New("not implemented")

// host is where a driver finds the cgroup filesystems; tests point it at a
// fake tree.
type host struct {
	mountinfo  string // path of mountinfo to parse
	selfCgroup string // path of /proc/self/cgroup, for relative paths
	root       string // cgroup filesystem root, for driver detection
}

func realHost() host {
	return host{
		mountinfo:  "/proc/self/mountinfo",
		selfCgroup: "/proc/self/cgroup",
		root:       "/sys/fs/cgroup",
	}
}

// New returns the Manager fitting the host: systemd when c.Systemd, else v2
// when /sys/fs/cgroup is a cgroup2 mount, else v1.
func New(c Config) (Manager, error) {
	return newManager(realHost(), c)
}

func newManager(h host, c Config) (Manager, error) {
	if c.Systemd {
		return newSystemd(h, c)
	}
	unified, err := isUnified(h.root)
	if err != nil {
		return nil, err
	}
	if unified {
		return newV2(h, c)
	}
	return newV1(h, c)
}

// Load rebuilds the Manager described by s.
func Load(s State) (Manager, error) {
	switch s.Driver {
	case DriverV1:
		return loadV1(s)
	case DriverV2:
		return loadV2(s)
	case DriverSystemd:
		return loadSystemd(s)
	}
	return nil, fmt.Errorf("load cgroup state: unknown driver %q", s.Driver)
}

// UnifiedHost: this host's /sys/fs/cgroup is the unified (v2) hierarchy;
// false where it cannot be told.
func UnifiedHost() bool {
	ok, err := isUnified(realHost().root)
	return err == nil && ok
}

func isUnified(root string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil {
		return false, fmt.Errorf("statfs %s: %w", root, err)
	}
	return st.Type == unix.CGROUP2_SUPER_MAGIC, nil
}

// cgroupPath turns cgroupsPath into an absolute cgroup path; own is the
// caller's cgroup in the hierarchy at hand, used only for relative paths.
func cgroupPath(p, id, own string) (string, error) {
	if p == "" {
		if id == "" {
			return "", errors.New("linux.cgroupsPath: empty and no container id for the default")
		}
		if strings.Contains(id, "/") || id == "." || id == ".." {
			return "", fmt.Errorf("container id %q: not usable as a cgroup name", id)
		}
		return "/hull/" + id, nil
	}
	if !path.IsAbs(p) {
		p = path.Join("/", own, p)
	}
	p = path.Clean(p)
	if p == "/" {
		return "", fmt.Errorf("linux.cgroupsPath %q: resolves to the root cgroup", p)
	}
	return p, nil
}
