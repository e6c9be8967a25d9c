package libcontainer

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/cgroups"
)

// skipCgroup is the rootless answer to a cgroup the caller may not make
// (cgroup v1 without delegation, as runc's rootless manager): a container
// without limits runs in the caller's own cgroup; one that asks for limits
// is refused, as they could not be enforced.
func (c *Container) skipCgroup(spec *specs.Spec, cause error) (cgroups.Manager, error) {
	if !errors.Is(cause, fs.ErrPermission) && !errors.Is(cause, fs.ErrNotExist) {
		return nil, cause
	}
	if spec.Linux != nil && hasLimits(spec.Linux.Resources) {
		return nil, fmt.Errorf("rootless: linux.resources: limits need a cgroup this user can write, and there is none (no delegated cgroup; on cgroup v1 only root can make one): remove linux.resources or give a writable linux.cgroupsPath: %w", cause)
	}
	if cg, err := c.cgroup(); err != nil {
		return nil, err
	} else if cg != nil {
		cg.Destroy()
	}
	c.Cgroup = nil
	if err := c.save(); err != nil {
		return nil, fmt.Errorf("save state: %w", err)
	}
	return nil, nil
}

// noCgroup is the error of a command that needs the container's cgroup
// when it has none: it runs rootless in the caller's own cgroup because
// none could be made. It names what would give it one.
func noCgroup(id, what string) error {
	return fmt.Errorf("container %q: %s needs the container's cgroup, and it has none: it runs rootless in the caller's cgroup (no delegated cgroup: on cgroup v1 only root can make one, so give a linux.cgroupsPath under a hierarchy delegated to this user; on cgroup v2 use the user's delegated subtree or --systemd-cgroup)", id, what)
}

// hasLimits reports whether r asks for anything but device rules, which a
// rootless container cannot have enforced and gets through bind mounts.
func hasLimits(r *specs.LinuxResources) bool {
	if r == nil {
		return false
	}
	rest := *r
	rest.Devices = nil
	return !reflect.DeepEqual(rest, specs.LinuxResources{})
}

// ownIDOnly reports whether the mappings map exactly one id, id itself: what
// an unprivileged user may write to its new namespace without a helper.
func ownIDOnly(m []specs.LinuxIDMapping, id int) bool {
	return len(m) == 1 && m[0].Size == 1 && int(m[0].HostID) == id
}

// writeIDMapHelper writes a mapping of pid's user namespace through the
// setuid helper (newuidmap/newgidmap of Debian's uidmap), which checks it
// against /etc/subuid or /etc/subgid.
func writeIDMapHelper(helper string, pid int, m []specs.LinuxIDMapping) error {
	path, err := exec.LookPath(helper)
	if err != nil {
		return fmt.Errorf("%s not found (install the uidmap package): a mapping of more than the caller's own id needs it: %w", helper, err)
	}
	args := []string{strconv.Itoa(pid)}
	for _, e := range m {
		args = append(args, strconv.FormatUint(uint64(e.ContainerID), 10), strconv.FormatUint(uint64(e.HostID), 10), strconv.FormatUint(uint64(e.Size), 10))
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %w: %s (are the ranges in /etc/subuid and /etc/subgid for this user?)", helper, args, err, bytes.TrimSpace(out))
	}
	return nil
}

// writeIDMaps writes uid_map and gid_map of pid's new user namespace. As
// root it writes them itself; unprivileged it writes its own single id
// directly (after denying setgroups, as the kernel requires) and anything
// more through newuidmap/newgidmap.
func writeIDMaps(pid int, uids, gids []specs.LinuxIDMapping) error {
	// uid 0 may write any ids of its own namespace, also inside a rootless
	// engine's user namespace (rootless podman runs the runtime so).
	euid, egid := os.Geteuid(), os.Getegid()
	privileged := euid == 0
	switch {
	case privileged:
		if err := writeIDMap(fmt.Sprintf("%d/uid_map", pid), uids); err != nil {
			return fmt.Errorf("linux.uidMappings: %w", err)
		}
	case ownIDOnly(uids, euid):
		if err := writeIDMap(fmt.Sprintf("%d/uid_map", pid), uids); err != nil {
			return fmt.Errorf("linux.uidMappings: %w", err)
		}
	default:
		if err := writeIDMapHelper("newuidmap", pid, uids); err != nil {
			return fmt.Errorf("linux.uidMappings: %w", err)
		}
	}
	switch {
	case privileged:
	case ownIDOnly(gids, egid):
		if err := writeProc(fmt.Sprintf("%d/setgroups", pid), []byte("deny")); err != nil {
			return fmt.Errorf("linux.gidMappings: deny setgroups: %w", err)
		}
	default:
		if err := writeIDMapHelper("newgidmap", pid, gids); err != nil {
			return fmt.Errorf("linux.gidMappings: %w", err)
		}
		return nil
	}
	if err := writeIDMap(fmt.Sprintf("%d/gid_map", pid), gids); err != nil {
		return fmt.Errorf("linux.gidMappings: %w", err)
	}
	return nil
}

// pidNamespaceMembers lists the processes in init's pid namespace, if init
// is that namespace's first process; else init alone. Processes whose
// namespace cannot be read (another user's) are not members.
func pidNamespaceMembers(init int) ([]int, error) {
	own, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", init))
	if err != nil {
		return nil, fmt.Errorf("container init %d: %w", init, err)
	}
	parent, _ := os.Readlink("/proc/self/ns/pid")
	if own == parent {
		return []int{init}, nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err == nil && ns == own {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// runningInUserNS reports whether this process is in a user namespace other
// than the initial one (whose uid_map is the full identity map), as runc's
// userns.RunningInUserNS does.
//
// Read with one read(2) into a buffer (the initial map is one 33-byte
// line) rather than os.ReadFile, which tries the runtime's poller first
// (five more syscalls) on each of up to three calls per create.
func runningInUserNS() bool {
	fd, err := unix.Open("/proc/self/uid_map", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var buf [64]byte
	n, err := unix.Read(fd, buf[:])
	switch {
	case err != nil:
		return false
	case n == len(buf):
		return true // longer than the initial map's one line
	}
	return strings.Join(strings.Fields(string(buf[:n])), " ") != "0 0 4294967295"
}
