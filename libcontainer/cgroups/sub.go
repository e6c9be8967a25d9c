package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Sub returns a manager that places processes in sub-cgroups of m's
// cgroup, as `exec --cgroup` asks (runc's semantics): sub maps a v1
// controller to a path below the container's cgroup in that controller's
// hierarchy, and the key "" gives one path for every hierarchy, the only
// form cgroup v2 takes. The sub-cgroups must exist; everything but
// placement is m's.
func Sub(m Manager, sub map[string]string) (Manager, error) {
	if len(sub) == 0 {
		return m, nil
	}
	base := map[string]string{}
	switch t := m.(type) {
	case *v1Manager:
		for k, v := range t.paths {
			base[k] = v
		}
	case *v2Manager:
		base[""] = t.dir
	case *systemdManager:
		base[""] = t.v2.dir
	default:
		return nil, fmt.Errorf("--cgroup: not supported by this cgroup driver")
	}
	dirs := map[string]bool{}
	if p, ok := sub[""]; ok {
		if len(sub) != 1 {
			return nil, fmt.Errorf("--cgroup %s: a path without <controller>: prefix must be the only --cgroup", p)
		}
		for _, d := range base {
			dir, err := subDir(d, p)
			if err != nil {
				return nil, err
			}
			dirs[dir] = true
		}
	} else {
		for ctrl, p := range sub {
			d, ok := base[ctrl]
			if !ok {
				return nil, fmt.Errorf("--cgroup %s:%s: unknown controller %s (the container's cgroup has no such hierarchy)", ctrl, p, ctrl)
			}
			dir, err := subDir(d, p)
			if err != nil {
				return nil, err
			}
			base[ctrl] = dir
		}
		for _, d := range base {
			dirs[d] = true
		}
	}
	s := &subManager{Manager: m}
	for d := range dirs {
		s.dirs = append(s.dirs, d)
	}
	sort.Strings(s.dirs)
	return s, nil
}

// subDir joins a --cgroup path to the container's cgroup directory; it
// must stay below it and exist.
func subDir(dir, p string) (string, error) {
	d := filepath.Join(dir, p)
	if !strings.HasPrefix(d, dir+"/") {
		return "", fmt.Errorf("--cgroup %s: not a sub cgroup path of the container's cgroup", p)
	}
	fi, err := os.Stat(d)
	if err != nil {
		return "", fmt.Errorf("--cgroup %s: %w", p, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("--cgroup %s: %s is not a cgroup directory", p, d)
	}
	return d, nil
}

// subManager is a Manager whose processes go to sub-cgroups.
type subManager struct {
	Manager
	dirs []string
}

func (s *subManager) ProcsFiles() []string {
	var out []string
	for _, d := range s.dirs {
		out = append(out, filepath.Join(d, "cgroup.procs"))
	}
	return out
}

func (s *subManager) Apply(pid int) error {
	for _, d := range s.dirs {
		if err := writeFile(d, "cgroup.procs", fmt.Sprint(pid)); err != nil {
			return fmt.Errorf("add pid %d to cgroup %s: %w", pid, d, err)
		}
	}
	return nil
}
