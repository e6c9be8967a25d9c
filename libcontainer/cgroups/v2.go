package cgroups

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// v2Manager drives one directory on the unified hierarchy.
type v2Manager struct {
	root      string // mount point of the unified hierarchy
	path      string // cgroup path, "/"-rooted
	dir       string // root + path
	resources *specs.LinuxResources
	made      bool // Create made the cgroup's directory
}

func newV2(h host, c Config) (*v2Manager, error) {
	var own string
	if c.Path != "" && !path.IsAbs(c.Path) {
		self, err := parseSelfCgroup(h.selfCgroup)
		if err != nil {
			return nil, err
		}
		var ok bool
		if own, ok = self[""]; !ok {
			return nil, fmt.Errorf("linux.cgroupsPath %q is relative, but %s has no cgroup v2 entry", c.Path, h.selfCgroup)
		}
		// Our own cgroup holds us, so by the no-internal-processes rule it
		// cannot enable controllers for a child: resolve under its parent,
		// as runc does on v2 (a shell in a session scope, a service).
		own = path.Dir(own)
	}
	p, err := cgroupPath(c.Path, c.ID, own)
	if err != nil {
		return nil, err
	}
	return &v2Manager{root: h.root, path: p, dir: filepath.Join(h.root, p), resources: c.Resources}, nil
}

func loadV2(s State) (*v2Manager, error) {
	if !filepath.IsAbs(s.Dir) || !path.IsAbs(s.Path) {
		return nil, fmt.Errorf("load cgroup v2 state: dir %q and path %q must be absolute", s.Dir, s.Path)
	}
	root := strings.TrimSuffix(s.Dir, s.Path)
	if root == s.Dir || root == "" {
		return nil, fmt.Errorf("load cgroup v2 state: dir %q does not end in path %q", s.Dir, s.Path)
	}
	return &v2Manager{root: root, path: s.Path, dir: s.Dir}, nil
}

func (m *v2Manager) State() State {
	return State{Driver: DriverV2, Path: m.path, Dir: m.dir}
}

func (m *v2Manager) Create() error {
	if err := validateV2(m.resources); err != nil {
		return err
	}
	made, err := mkdirCgroup(m.dir, false)
	if err != nil {
		removeMade(made)
		return err
	}
	enableErrs := enableControllers(m.root, m.dir)
	if err := m.apply(m.resources, false, enableErrs); err != nil {
		removeMade(made)
		return fmt.Errorf("create cgroup %s: %w", m.path, err)
	}
	m.made = len(made) > 0 && made[len(made)-1] == m.dir
	return nil
}

// apply checks that the controllers r needs reached dir (explaining a miss
// with why enabling failed, if it did) and writes r.
func (m *v2Manager) apply(r *specs.LinuxResources, update bool, enableErrs map[string]error) error {
	if err := checkV2Controllers(r, m.dir, enableErrs); err != nil {
		return err
	}
	if err := setV2(m.dir, r, update); err != nil {
		return err
	}
	if r != nil && len(r.Devices) > 0 {
		if err := setDevicesV2(m.dir, r.Devices); err != nil {
			return err
		}
	}
	return nil
}

// enableControllers turns on, in every ancestor of dir below and including
// the root, each controller the ancestor has, so that dir gets them all
// (runc does the same; stats need them even without limits). Failures are
// expected: a pre-existing ancestor with processes of its own may not enable
// any ("no internal processes"). They are returned per controller and only
// become errors when a resource needs that controller.
func enableControllers(root, dir string) map[string]error {
	errs := map[string]error{}
	rel, err := filepath.Rel(root, filepath.Dir(dir))
	if err != nil || strings.HasPrefix(rel, "..") {
		return errs
	}
	cur := root
	parts := []string{""}
	if rel != "." {
		parts = append(parts, strings.Split(rel, "/")...)
	}
	for _, p := range parts {
		cur = filepath.Join(cur, p)
		avail, err := readFile(cur, "cgroup.controllers")
		if err != nil {
			continue
		}
		on, _ := readFile(cur, "cgroup.subtree_control")
		enabled := strings.Fields(on)
		for _, c := range strings.Fields(avail) {
			if containsWord(enabled, c) {
				continue
			}
			if err := writeFile(cur, "cgroup.subtree_control", "+"+c); err != nil {
				if errors.Is(err, unix.EBUSY) {
					err = fmt.Errorf("%w (%s has processes of its own: the no-internal-processes rule)", err, cur)
				}
				errs[c] = err
			}
		}
	}
	return errs
}

func containsWord(words []string, w string) bool {
	for _, x := range words {
		if x == w {
			return true
		}
	}
	return false
}

func (m *v2Manager) ProcsFiles() []string {
	return []string{filepath.Join(m.dir, "cgroup.procs")}
}

func (m *v2Manager) Apply(pid int) error {
	if err := writeFile(m.dir, "cgroup.procs", fmt.Sprint(pid)); err != nil {
		return fmt.Errorf("add pid %d to cgroup: %w", pid, err)
	}
	return nil
}

func (m *v2Manager) Set(r *specs.LinuxResources) error {
	if err := validateV2(r); err != nil {
		return err
	}
	return m.apply(r, true, nil)
}

func (m *v2Manager) Pids() ([]int, error) {
	return walkPids(m.dir)
}

// Signal kills with cgroup.kill when it can (Linux 5.14+): the kernel then
// kills every process in the subtree, forks included, in one step. Other
// signals (and SIGKILL on older kernels) are sent with the cgroup frozen,
// unless the container was already paused, so forks cannot escape.
func (m *v2Manager) Signal(sig unix.Signal) error {
	if sig == unix.SIGKILL && fileExists(m.dir, "cgroup.kill") {
		return writeFile(m.dir, "cgroup.kill", "1")
	}
	paused, err := m.Frozen()
	canFreeze := err == nil && sig != 0 // signal 0 delivers nothing: no fork to race with
	if canFreeze && !paused {
		if err := m.Freeze(); err != nil {
			return err
		}
	}
	pids, err := m.Pids()
	if err == nil {
		err = signalAll(pids, sig)
	}
	if canFreeze && !paused {
		// Thaw even after a failure: a container left frozen is worse.
		if terr := m.Thaw(); err == nil {
			err = terr
		}
	}
	return err
}

// Freeze writes cgroup.freeze and waits for cgroup.events to report
// "frozen 1": the kernel stops tasks asynchronously. After 5s it thaws and
// fails rather than leave a half-frozen container.
func (m *v2Manager) Freeze() error {
	if err := writeFile(m.dir, "cgroup.freeze", "1"); err != nil {
		return fmt.Errorf("freeze: %w", err)
	}
	if err := waitFrozen(m.dir, true, 5*time.Second); err != nil {
		_ = writeFile(m.dir, "cgroup.freeze", "0")
		return fmt.Errorf("freeze %s: %w", m.dir, err)
	}
	return nil
}

func (m *v2Manager) Thaw() error {
	if err := writeFile(m.dir, "cgroup.freeze", "0"); err != nil {
		return fmt.Errorf("thaw: %w", err)
	}
	if err := waitFrozen(m.dir, false, 2*time.Second); err != nil {
		return fmt.Errorf("thaw %s: %w (is an ancestor cgroup frozen?)", m.dir, err)
	}
	return nil
}

func waitFrozen(dir string, want bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		kv, err := readKeyValues(dir, "cgroup.events")
		if err != nil {
			return err
		}
		if (kv["frozen"] == 1) == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup.events still reports frozen %d after %v", kv["frozen"], timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// Frozen reads cgroup.freeze, the state asked of this cgroup, so that a
// frozen ancestor does not make the container look paused (cgroup.events
// "frozen" would).
func (m *v2Manager) Frozen() (bool, error) {
	s, err := readFile(m.dir, "cgroup.freeze")
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(s) == "1", nil
}

func (m *v2Manager) Destroy() error {
	return removeCgroupDir(m.dir)
}
