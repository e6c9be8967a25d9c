package cgroups

import (
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// JoinDir is one hierarchy's directory of a cgroup, as a process joins it.
type JoinDir struct {
	Dir string
	// Cgroup2: the directory is on a cgroup2 hierarchy (v2, or a hybrid
	// host's unified one), joined by CLONE_INTO_CGROUP or cgroup.procs;
	// otherwise a v1 hierarchy, joined through its tasks file too.
	Cgroup2 bool
	// Pids: the pids controller may limit the directory (pids.max).
	Pids bool
}

// JoinDirs lists m's directories, one per hierarchy, in ProcsFiles' order.
// The managers know each hierarchy from the mount table they were made
// from; other ones (exec --cgroup's sub-cgroups) are asked of the
// filesystem, a statfs per directory.
func JoinDirs(m Manager) []JoinDir {
	switch t := m.(type) {
	case *v1Manager:
		var out []JoinDir
		for _, d := range t.dirs() {
			out = append(out, JoinDir{Dir: d, Cgroup2: d == t.paths[unifiedKey], Pids: d == t.paths["pids"]})
		}
		return out
	case *v2Manager:
		return []JoinDir{{Dir: t.dir, Cgroup2: true, Pids: true}}
	case *systemdManager:
		return []JoinDir{{Dir: t.v2.dir, Cgroup2: true, Pids: true}}
	}
	var out []JoinDir
	for _, f := range m.ProcsFiles() {
		dir := filepath.Dir(f)
		var fs unix.Statfs_t
		v2 := unix.Statfs(dir, &fs) == nil && fs.Type == unix.CGROUP2_SUPER_MAGIC
		out = append(out, JoinDir{Dir: dir, Cgroup2: v2, Pids: true})
	}
	return out
}

// PidsMax reads dir's pids.max; ok is false where there is none (not the
// pids controller) or it says "max".
func PidsMax(dir string) (n int64, ok bool) {
	s, err := readFile(dir, "pids.max")
	if err != nil {
		return 0, false
	}
	n, err = strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return n, err == nil
}

// ReadControl reads a whole cgroup control file by its path, as a plain
// fd without the runtime's poller (see openControl).
func ReadControl(path string) ([]byte, error) { return readControl(path) }

// Made reports whether m's Create made the cgroup's directory in every
// hierarchy: a cgroup that did not exist holds no process, so whoever
// would list its processes to warn about strangers sharing it need not.
// False when unknown (the systemd driver, whose unit may exist).
func Made(m Manager) bool {
	switch t := m.(type) {
	case *v1Manager:
		return t.made
	case *v2Manager:
		return t.made
	}
	return false
}
