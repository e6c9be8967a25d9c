package cgroups

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/rawfile"
	"github.com/hull-runtime/hull/libcontainer/mountinfo"
)

// v1Controllers are the v1 hierarchies hull manages, by the name used in
// mount options and /proc/self/cgroup.
var v1Controllers = []string{
	"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio",
	"pids", "hugetlb", "net_cls", "net_prio", "perf_event", "rdma", "misc",
	"name=systemd",
}

func isV1Controller(name string) bool {
	for _, c := range v1Controllers {
		if c == name {
			return true
		}
	}
	return false
}

// unifiedKey stands, among a v1 manager's controllers, for the cgroup2
// hierarchy of a hybrid host (/sys/fs/cgroup/unified). runc places every
// container process there too, so that tools reading the unified hierarchy
// (systemd, eBPF programs attached to cgroups, PSI) see the container.
const unifiedKey = "unified"

// selfKey is the key of ctrl's hierarchy in parseSelfCgroup's map.
func selfKey(ctrl string) string {
	if ctrl == unifiedKey {
		return ""
	}
	return ctrl
}

// v1Mount is one mounted v1 hierarchy; co-mounted controllers share one.
type v1Mount struct {
	Mountpoint  string
	Root        string // the cgroup shown at Mountpoint ("/" outside containers)
	Controllers []string
}

// parseV1Mounts reads mountinfo and returns the first mount of each managed
// v1 hierarchy. cgroup2 mounts (the "unified" mount of a hybrid host) are
// ignored: on v1 hull only drives v1 controllers.
func parseV1Mounts(mountinfo string) ([]v1Mount, error) {
	// A plain fd made an *os.File: mountinfo is pollable, and os.Open
	// would register it with the runtime's poller (see openControl).
	fd, err := openControl(mountinfo, unix.O_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", &os.PathError{Op: "open", Path: mountinfo, Err: err})
	}
	f := os.NewFile(uintptr(fd), mountinfo)
	defer f.Close()
	seen := map[string]bool{}
	var out []v1Mount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		m, ok := parseV1MountLine(sc.Text())
		if !ok || len(m.Controllers) == 0 || seen[m.Controllers[0]] {
			continue
		}
		for _, c := range m.Controllers {
			seen[c] = true
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", mountinfo, err)
	}
	return out, nil
}

func parseV1MountLine(line string) (v1Mount, bool) {
	pre, post, ok := strings.Cut(line, " - ")
	if !ok {
		return v1Mount{}, false
	}
	pf := strings.Fields(pre)
	qf := strings.Fields(post)
	if len(pf) < 5 || len(qf) < 3 || (qf[0] != "cgroup" && qf[0] != "cgroup2") {
		return v1Mount{}, false
	}
	m := v1Mount{Root: mountinfo.Unescape(pf[3]), Mountpoint: mountinfo.Unescape(pf[4])}
	if qf[0] == "cgroup2" {
		m.Controllers = []string{unifiedKey}
		return m, true
	}
	for _, opt := range strings.Split(qf[2], ",") {
		if isV1Controller(opt) {
			m.Controllers = append(m.Controllers, opt)
		}
	}
	return m, true
}

// parseSelfCgroup reads /proc/<pid>/cgroup into controller -> cgroup path;
// the v2 entry ("0::/x") is stored under "".
func parseSelfCgroup(file string) (map[string]string, error) {
	b, err := rawfile.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read own cgroup: %w", err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, nil
}

// hierarchyDir is the directory of cgroup p in hierarchy m.
func hierarchyDir(m v1Mount, p string) (string, error) {
	rel := p
	if m.Root != "/" {
		if p != m.Root && !strings.HasPrefix(p, m.Root+"/") {
			return "", fmt.Errorf("cgroup %s is outside %s, the part of hierarchy %s mounted at %s",
				p, m.Root, strings.Join(m.Controllers, ","), m.Mountpoint)
		}
		rel = strings.TrimPrefix(p, m.Root)
	}
	return path.Join(m.Mountpoint, rel), nil
}
