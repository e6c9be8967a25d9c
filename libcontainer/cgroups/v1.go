package cgroups

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// v1Manager drives a cgroup spread over the mounted v1 hierarchies, and the
// unified one of a hybrid host: the same cgroup path exists once per
// hierarchy.
type v1Manager struct {
	path      string
	paths     map[string]string // controller -> cgroup directory
	resources *specs.LinuxResources
	made      bool // Create made the cgroup's directory in every hierarchy
}

func newV1(h host, c Config) (*v1Manager, error) {
	mounts, err := parseV1Mounts(h.mountinfo)
	if err != nil {
		return nil, err
	}
	if len(mounts) == 0 {
		return nil, errors.New("no cgroup v1 hierarchy is mounted")
	}
	var own map[string]string
	if c.Path != "" && !filepath.IsAbs(c.Path) {
		if own, err = parseSelfCgroup(h.selfCgroup); err != nil {
			return nil, err
		}
	}
	m := &v1Manager{paths: map[string]string{}, resources: c.Resources}
	for _, mnt := range mounts {
		if c.Rootless && mnt.Controllers[0] == unifiedKey {
			continue
		}
		p, err := cgroupPath(c.Path, c.ID, own[selfKey(mnt.Controllers[0])])
		if err != nil {
			return nil, err
		}
		dir, err := hierarchyDir(mnt, p)
		if err != nil {
			return nil, err
		}
		// A relative path may resolve differently per hierarchy; Path then
		// records the first one, Paths stays exact.
		if m.path == "" {
			m.path = p
		}
		for _, ctrl := range mnt.Controllers {
			m.paths[ctrl] = dir
		}
	}
	return m, nil
}

func loadV1(s State) (*v1Manager, error) {
	if len(s.Paths) == 0 {
		return nil, errors.New("load cgroup v1 state: no paths")
	}
	paths := make(map[string]string, len(s.Paths))
	for k, v := range s.Paths {
		if !filepath.IsAbs(v) {
			return nil, fmt.Errorf("load cgroup v1 state: %s path %q is not absolute", k, v)
		}
		paths[k] = v
	}
	return &v1Manager{path: s.Path, paths: paths}, nil
}

func (m *v1Manager) State() State {
	paths := make(map[string]string, len(m.paths))
	for k, v := range m.paths {
		paths[k] = v
	}
	return State{Driver: DriverV1, Path: m.path, Paths: paths}
}

// dirs lists each hierarchy's directory once, sorted.
func (m *v1Manager) dirs() []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range m.paths {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

func (m *v1Manager) Create() error {
	if err := checkV1Controllers(m.resources, m.paths); err != nil {
		return err
	}
	if err := validateResources(m.resources); err != nil {
		return err
	}
	var made []string
	fresh := true
	for _, dir := range m.dirs() {
		created, err := mkdirCgroup(dir, dir == m.paths["cpuset"])
		made = append(made, created...)
		if err != nil {
			removeMade(made)
			return err
		}
		fresh = fresh && len(created) > 0 && created[len(created)-1] == dir
	}
	m.made = fresh
	if err := m.set(m.resources, false); err != nil {
		removeMade(made)
		return fmt.Errorf("create cgroup %s: %w", m.path, err)
	}
	return nil
}

func removeMade(made []string) {
	for i := len(made) - 1; i >= 0; i-- {
		// Best effort: the error that made Create fail is what matters.
		_ = removeCgroupDir(made[i])
	}
}

// mkdirCgroup creates dir and missing parents, returning those it created,
// shallowest first. In the cpuset hierarchy a new cgroup starts with empty
// cpuset.cpus/mems, which would forbid joining it, so each new level copies
// its parent's values.
//
// The mkdir comes first and the parents are looked at only when it fails
// with ENOENT: a container's cgroup is usually one new level under an
// existing one, made in one syscall per hierarchy instead of three.
func mkdirCgroup(dir string, cpuset bool) ([]string, error) {
	err := unix.Mkdir(dir, 0o755)
	if errors.Is(err, unix.ENOENT) && dir != "/" {
		made, perr := mkdirCgroup(filepath.Dir(dir), cpuset)
		if perr != nil {
			return made, perr
		}
		err = unix.Mkdir(dir, 0o755)
		return mkdirDone(dir, cpuset, made, err)
	}
	if errors.Is(err, unix.EEXIST) {
		// An existing but never-initialised cpuset cgroup is as unusable.
		if cpuset {
			return nil, copyCpuset(dir, false)
		}
		return nil, nil
	}
	return mkdirDone(dir, cpuset, nil, err)
}

// mkdirDone finishes a level mkdirCgroup made (or another create made
// meanwhile: not ours to remove, but filled all the same).
func mkdirDone(dir string, cpuset bool, made []string, err error) ([]string, error) {
	switch {
	case err == nil:
		made = append(made, dir)
	case !errors.Is(err, unix.EEXIST):
		return made, fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	if cpuset {
		if err := copyCpuset(dir, err == nil); err != nil {
			return made, err
		}
	}
	return made, nil
}

// A concurrent create may have made the parent and not filled it yet, so an
// empty parent is filled first, up to a level that has values (the root
// always has). made: dir was just made by us, so its values are empty, or
// the parent's (cgroup.clone_children), and need not be read before the
// parent's are written.
func copyCpuset(dir string, made bool) error {
	parent := filepath.Dir(dir)
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		if !made {
			cur, err := readFile(dir, f)
			if err != nil {
				return err
			}
			if strings.TrimSpace(cur) != "" {
				continue
			}
		}
		v, err := readFile(parent, f)
		if err != nil {
			return err
		}
		if strings.TrimSpace(v) == "" && parent != dir {
			if err := copyCpuset(parent, false); err != nil {
				return err
			}
			if v, err = readFile(parent, f); err != nil {
				return err
			}
		}
		if err := writeFile(dir, f, strings.TrimSpace(v)); err != nil {
			return err
		}
	}
	return nil
}

func (m *v1Manager) ProcsFiles() []string {
	var out []string
	for _, d := range m.dirs() {
		out = append(out, filepath.Join(d, "cgroup.procs"))
	}
	return out
}

func (m *v1Manager) Apply(pid int) error {
	for _, d := range m.dirs() {
		if err := writeFile(d, "cgroup.procs", fmt.Sprint(pid)); err != nil {
			return fmt.Errorf("add pid %d to cgroup: %w", pid, err)
		}
	}
	return nil
}

func (m *v1Manager) Set(r *specs.LinuxResources) error {
	if err := checkV1Controllers(r, m.paths); err != nil {
		return err
	}
	if err := validateResources(r); err != nil {
		return err
	}
	return m.set(r, true)
}

// pidsDir is the hierarchy whose cgroup.procs lists the processes; any
// hierarchy does, these are merely the likeliest to exist.
func (m *v1Manager) pidsDir() string {
	for _, c := range []string{"pids", "freezer", "memory", "cpu", "name=systemd"} {
		if d, ok := m.paths[c]; ok {
			return d
		}
	}
	return m.dirs()[0]
}

func (m *v1Manager) Pids() ([]int, error) {
	return walkPids(m.pidsDir())
}

func (m *v1Manager) Signal(sig unix.Signal) error {
	_, hasFreezer := m.paths["freezer"]
	// Signal 0 delivers nothing, so there is no fork to race with: no
	// freeze (which under load can sit in FREEZING for seconds).
	hasFreezer = hasFreezer && sig != 0
	if hasFreezer {
		if err := m.Freeze(); err != nil {
			return err
		}
	}
	pids, err := m.Pids()
	if err == nil {
		err = signalAll(pids, sig)
	}
	if hasFreezer {
		// Thaw even after a failure: a container left frozen is worse.
		if terr := m.Thaw(); err == nil {
			err = terr
		}
	}
	return err
}

func signalAll(pids []int, sig unix.Signal) error {
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("send %v to pid %d: %w", sig, pid, err)
		}
	}
	return nil
}

func (m *v1Manager) freezerDir() (string, error) {
	d, ok := m.paths["freezer"]
	if !ok {
		return "", errors.New("freezer controller not mounted")
	}
	return d, nil
}

// Freeze asks for FROZEN and waits: the kernel reports FREEZING until every
// task has stopped, and a task in vfork() or an uninterruptible sleep can
// hold it there, so the request is repeated and, after a few seconds, undone.
func (m *v1Manager) Freeze() error {
	d, err := m.freezerDir()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := writeFile(d, "freezer.state", "FROZEN"); err != nil {
			return err
		}
		st, err := readFile(d, "freezer.state")
		if err != nil {
			return err
		}
		if strings.TrimSpace(st) == "FROZEN" {
			return nil
		}
		if time.Now().After(deadline) {
			_ = writeFile(d, "freezer.state", "THAWED")
			return fmt.Errorf("freeze %s: still %s after 5s", d, strings.TrimSpace(st))
		}
		time.Sleep(time.Millisecond)
	}
}

func (m *v1Manager) Thaw() error {
	d, err := m.freezerDir()
	if err != nil {
		return err
	}
	// Read first: a cgroup never frozen (delete after run) is left alone,
	// one read where the write and the read-back cost two opens more.
	if st, err := readFile(d, "freezer.state"); err == nil && strings.TrimSpace(st) == "THAWED" {
		return nil
	}
	for i := 0; i < 1000; i++ {
		if err := writeFile(d, "freezer.state", "THAWED"); err != nil {
			return err
		}
		st, err := readFile(d, "freezer.state")
		if err != nil {
			return err
		}
		if strings.TrimSpace(st) == "THAWED" {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("thaw %s: state did not become THAWED", d)
}

func (m *v1Manager) Frozen() (bool, error) {
	d, err := m.freezerDir()
	if err != nil {
		return false, err
	}
	// self_freezing tells whether this cgroup (not an ancestor) was frozen.
	st, err := readFile(d, "freezer.self_freezing")
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(st) == "1", nil
}

func (m *v1Manager) Destroy() error {
	var errs []error
	for _, d := range m.dirs() {
		if err := removeCgroupDir(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
