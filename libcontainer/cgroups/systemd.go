package cgroups

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// systemdManager is a transient scope unit, made over D-Bus, whose cgroup
// directory is then driven like any v2 cgroup. Delegate=yes makes the
// directory (and anything below it) the container's to write.
type systemdManager struct {
	unit  string // "hull-<id>.scope"
	slice string // "system.slice"
	// user is the host uid whose own systemd (the user manager) holds the
	// scope, rootless; 0 is the system manager.
	user int
	v2   *v2Manager
}

// systemdUnit is what linux.cgroupsPath names for the systemd driver.
type systemdUnit struct {
	slice, unit string
}

// parseSystemdPath reads "slice:prefix:name" as runc does: the scope
// "prefix-name.scope" (or "name.scope" without prefix) in slice, by default
// system.slice. An empty path gives "system.slice:hull:<id>".
func parseSystemdPath(p, id string) (systemdUnit, error) {
	return parseSystemdPathIn(p, id, "system.slice")
}

// parseSystemdPathIn is parseSystemdPath with another default slice: a
// user manager's containers go to user.slice, as runc and podman put them.
func parseSystemdPathIn(p, id, defaultSlice string) (systemdUnit, error) {
	if p == "" {
		if id == "" {
			return systemdUnit{}, errors.New("linux.cgroupsPath: empty and no container id for the default")
		}
		p = defaultSlice + ":hull:" + id
	}
	if strings.HasPrefix(p, "/") {
		return parseSlicePath(p)
	}
	parts := strings.Split(p, ":")
	if len(parts) != 3 {
		return systemdUnit{}, fmt.Errorf("linux.cgroupsPath %q: the systemd driver wants \"slice:prefix:name\"", p)
	}
	slice, prefix, name := parts[0], parts[1], parts[2]
	if slice == "" {
		slice = defaultSlice
	}
	if _, err := expandSlice(slice); err != nil {
		return systemdUnit{}, fmt.Errorf("linux.cgroupsPath %q: %w", p, err)
	}
	if name == "" {
		return systemdUnit{}, fmt.Errorf("linux.cgroupsPath %q: empty unit name", p)
	}
	if strings.HasSuffix(name, ".slice") {
		return systemdUnit{}, fmt.Errorf("linux.cgroupsPath %q: a slice as the container's unit is not supported, only scopes", p)
	}
	unit := name + ".scope"
	if prefix != "" {
		unit = prefix + "-" + unit
	}
	if err := checkUnitName(unit); err != nil {
		return systemdUnit{}, fmt.Errorf("linux.cgroupsPath %q: %w", p, err)
	}
	return systemdUnit{slice: slice, unit: unit}, nil
}

// parseSlicePath reads the cgroupfs form of a scope in a slice,
// "/machine.slice/machine-NAME.scope" (what `hull convert` writes for a
// machine), as that scope in that slice, so one bundle serves both drivers.
func parseSlicePath(p string) (systemdUnit, error) {
	dir, unit := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	if !strings.HasSuffix(unit, ".scope") {
		return systemdUnit{}, fmt.Errorf("linux.cgroupsPath %q: the systemd driver wants \"slice:prefix:name\" or \"/SLICE…/UNIT.scope\"", p)
	}
	slice := path.Base(dir)
	if dir == "" {
		slice = "-.slice"
	}
	want, err := expandSlice(slice)
	if err != nil || want != dir && !(dir == "" && want == "/") {
		return systemdUnit{}, fmt.Errorf("linux.cgroupsPath %q: %q is not where systemd puts slice %s", p, dir, slice)
	}
	if err := checkUnitName(unit); err != nil {
		return systemdUnit{}, fmt.Errorf("linux.cgroupsPath %q: %w", p, err)
	}
	return systemdUnit{slice: slice, unit: unit}, nil
}

// checkUnitName admits the characters systemd allows in unit names.
func checkUnitName(u string) error {
	if len(u) > 255 {
		return fmt.Errorf("unit name %q: longer than 255 bytes", u)
	}
	for _, c := range u {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.ContainsRune(":-_.\\@", c)
		if !ok {
			return fmt.Errorf("unit name %q: character %q not allowed by systemd", u, c)
		}
	}
	return nil
}

// expandSlice gives the cgroup path of a slice: systemd nests "a-b.slice"
// in "a.slice", so "a-b.slice" lives at /a.slice/a-b.slice. "-.slice" is
// the root.
func expandSlice(slice string) (string, error) {
	name, ok := strings.CutSuffix(slice, ".slice")
	if !ok || strings.Contains(slice, "/") {
		return "", fmt.Errorf("slice %q: want a name ending in .slice", slice)
	}
	if name == "-" {
		return "/", nil
	}
	if name == "" || strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-") || strings.Contains(name, "--") {
		return "", fmt.Errorf("slice %q: invalid name", slice)
	}
	if err := checkUnitName(slice); err != nil {
		return "", err
	}
	p := ""
	prefix := ""
	for _, comp := range strings.Split(name, "-") {
		prefix += comp
		p += "/" + prefix + ".slice"
		prefix += "-"
	}
	return p, nil
}

func newSystemd(h host, c Config) (*systemdManager, error) {
	unified, err := isUnified(h.root)
	if err != nil {
		return nil, err
	}
	if !unified {
		return nil, fmt.Errorf("cgroup driver %s: needs a cgroup v2 host (%s is not cgroup2): %w", DriverSystemd, h.root, ErrNotImplemented)
	}
	if c.Rootless {
		return newUserSystemd(h.root, c)
	}
	return newSystemdAt(h.root, "", c)
}

// newSystemdAt places the scope under base, the cgroup of the manager
// that holds it ("" for the system manager, whose units start at the root).
func newSystemdAt(root, base string, c Config) (*systemdManager, error) {
	def := "system.slice"
	if base != "" {
		def = "user.slice"
	}
	u, err := parseSystemdPathIn(c.Path, c.ID, def)
	if err != nil {
		return nil, err
	}
	slicePath, _ := expandSlice(u.slice)
	p := path.Join("/", base, slicePath, u.unit)
	return &systemdManager{
		unit:  u.unit,
		slice: u.slice,
		v2:    &v2Manager{root: root, path: p, dir: filepath.Join(root, p), resources: c.Resources},
	}, nil
}

func loadSystemd(s State) (*systemdManager, error) {
	v2, err := loadV2(s)
	if err != nil {
		return nil, fmt.Errorf("load systemd cgroup state: %w", err)
	}
	unit := path.Base(s.Path)
	if !strings.HasSuffix(unit, ".scope") {
		return nil, fmt.Errorf("load systemd cgroup state: path %q does not end in a scope", s.Path)
	}
	return &systemdManager{unit: unit, slice: path.Base(path.Dir(s.Path)), user: s.SystemdUser, v2: v2}, nil
}

func (m *systemdManager) State() State {
	return State{Driver: DriverSystemd, Path: m.v2.path, Dir: m.v2.dir, SystemdUser: m.user}
}

func (m *systemdManager) ProcsFiles() []string          { return m.v2.ProcsFiles() }
func (m *systemdManager) Pids() ([]int, error)          { return m.v2.Pids() }
func (m *systemdManager) Signal(sig unix.Signal) error  { return m.v2.Signal(sig) }
func (m *systemdManager) Freeze() error                 { return m.v2.Freeze() }
func (m *systemdManager) Thaw() error                   { return m.v2.Thaw() }
func (m *systemdManager) Frozen() (bool, error)         { return m.v2.Frozen() }
func (m *systemdManager) Stats() (*Stats, error)        { return m.v2.Stats() }
func (m *systemdManager) OOMKillCount() (uint64, error) { return m.v2.OOMKillCount() }
func (m *systemdManager) NotifyOOM(done <-chan struct{}) (<-chan struct{}, error) {
	return m.v2.NotifyOOM(done)
}
