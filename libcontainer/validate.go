package libcontainer

import (
	"errors"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/apparmor"
	"github.com/hull-runtime/hull/libcontainer/capabilities"
	"github.com/hull-runtime/hull/libcontainer/nsenter"
	"github.com/hull-runtime/hull/libcontainer/process"
	"github.com/hull-runtime/hull/libcontainer/rootfs"
	"github.com/hull-runtime/hull/libcontainer/seccomp"
)

// validateRuntime checks, before anything is created, what only this
// runtime's packages can judge: capability and rlimit names, scheduler,
// I/O priority, personality, memory policy and seccomp values, Intel RDT, and what the command line
// must supply.
func validateRuntime(spec *specs.Spec, o CreateOpts) error {
	proc := spec.Process
	errs := []error{
		capabilities.Validate(proc.Capabilities),
		process.ValidateRlimits(proc.Rlimits),
		process.ValidateScheduler(proc.Scheduler),
		process.ValidateIOPriority(proc.IOPriority),
		process.ValidateOOMScoreAdj(proc.OOMScoreAdj),
		process.ValidateCPUAffinity(proc.ExecCPUAffinity),
	}
	if l := spec.Linux; l != nil {
		errs = append(errs, process.ValidatePersonality(l.Personality), process.ValidateMemoryPolicy(l.MemoryPolicy))
		if l.IntelRdt != nil {
			errs = append(errs, validateIntelRdt())
		}
		if l.Seccomp != nil {
			errs = append(errs, seccomp.Validate(l.Seccomp))
		}
	}
	if l := spec.Linux; l != nil {
		for i, ns := range l.Namespaces {
			if ns.Path != "" {
				errs = append(errs, checkNamespacePath(i, ns))
			}
		}
	}
	errs = append(errs, validateWithoutMountNamespace(spec), validateSysctls(spec))
	errs = append(errs, rootfs.ValidateMounts(spec.Mounts))
	errs = append(errs, apparmor.Validate("process.apparmorProfile", proc.ApparmorProfile), validateSELinux(spec))
	if proc.Terminal && o.ConsoleSocket == nil {
		errs = append(errs, errors.New("process.terminal is true: --console-socket is required"))
	}
	if o.PreserveFDs < 0 {
		errs = append(errs, errors.New("--preserve-fds: must not be negative"))
	}
	errs = append(errs, checkPreservedFDs(o.PreserveFDs))
	return errors.Join(errs...)
}

// checkPreservedFDs makes sure fds 3 to 2+n are the caller's, passed on
// through execve: such an fd has no close-on-exec flag, where every file
// hull and the Go runtime open has it (the runtime keeps its cgroup CPU
// files open from before main). hull 867ede5 passed on whatever was at a
// number the caller left closed, the container's locked state directory
// among them: a way to the host's / (/proc/self/fd/N/../..), as
// CVE-2024-21626, that also held the container's lock (found by review).
func checkPreservedFDs(n int) error {
	for fd := 3; fd < 3+n; fd++ {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		switch {
		case err != nil:
			return fmt.Errorf("--preserve-fds %d: fd %d was not passed to hull (%w)", n, fd, err)
		case flags&unix.FD_CLOEXEC != 0:
			return fmt.Errorf("--preserve-fds %d: fd %d was not passed to hull (it is close-on-exec, one of hull's own)", n, fd)
		}
	}
	return nil
}

// resctrlRoot is where the spec expects the resctrl filesystem.
const resctrlRoot = "/sys/fs/resctrl"

// validateIntelRdt fails for every linux.intelRdt: the spec requires an
// error when no resctrl filesystem is mounted, and where one is, hull does
// not manage resctrl groups yet; either way the container would otherwise
// run without the cache and bandwidth limits it asked for.
func validateIntelRdt() error {
	var fs unix.Statfs_t
	if err := unix.Statfs(resctrlRoot, &fs); err != nil || fs.Type != unix.RDTGROUP_SUPER_MAGIC {
		return fmt.Errorf("linux.intelRdt: no resctrl filesystem mounted at %s (the CPU lacks Intel RDT / AMD PQoS, or it is not mounted)", resctrlRoot)
	}
	return errors.New("linux.intelRdt: resctrl is mounted, but hull does not manage resctrl groups")
}

// checkNamespacePath opens a namespace given by path and checks it is a
// namespace of the declared type, so a container cannot end up in the
// wrong kind of namespace (or none) through a mistyped path.
func checkNamespacePath(i int, ns specs.LinuxNamespace) error {
	field := fmt.Sprintf("linux.namespaces[%d].path", i)
	fd, err := openNamespace(ns.Path)
	if err != nil {
		return fmt.Errorf("%s %q: %w", field, ns.Path, err)
	}
	defer unix.Close(fd)
	got, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
	if err != nil {
		return fmt.Errorf("%s %q: not a namespace (%v)", field, ns.Path, err)
	}
	if uintptr(got) != nsenter.CloneFlag(ns.Type) {
		return fmt.Errorf("%s %q: not a %s namespace", field, ns.Path, ns.Type)
	}
	return nil
}

// openNamespace opens path for reading only once it is seen to be a file
// on nsfs: opening a fifo for reading would block create forever, and
// opening a device could act on it.
func openNamespace(path string) (int, error) {
	pfd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pfd)
	var fs unix.Statfs_t
	if err := unix.Fstatfs(pfd, &fs); err != nil {
		return -1, err
	}
	if fs.Type != unix.NSFS_MAGIC {
		return -1, fmt.Errorf("not a namespace file (f_type %#x)", fs.Type)
	}
	return unix.Open(fmt.Sprintf("/proc/self/fd/%d", pfd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
}

// validateWithoutMountNamespace refuses what hull cannot honour in a
// container without a mount namespace of its own: there, it makes no mounts
// (they would change someone else's namespace) and only chroots, so it can
// neither mask paths nor make the root read-only. runc refuses masked and
// read-only paths the same way.
func validateWithoutMountNamespace(spec *specs.Spec) error {
	if ownsNamespace(spec, specs.MountNamespace) {
		return nil
	}
	var errs []error
	why := "needs a mount namespace of the container's own (a new one in linux.namespaces)"
	if l := spec.Linux; l != nil && (len(l.MaskedPaths) > 0 || len(l.ReadonlyPaths) > 0) {
		errs = append(errs, fmt.Errorf("linux.maskedPaths/readonlyPaths: %s", why))
	}
	if spec.Root != nil && spec.Root.Readonly {
		errs = append(errs, fmt.Errorf("root.readonly: %s", why))
	}
	return errors.Join(errs...)
}

// ipcSysctls are the kernel.* sysctls an IPC namespace owns.
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// validateSysctls allows only sysctls that belong to a namespace the
// container has (runc's rule): any other would change the host.
func validateSysctls(spec *specs.Spec) error {
	if spec.Linux == nil {
		return nil
	}
	var errs []error
	for key := range spec.Linux.Sysctl {
		var need specs.LinuxNamespaceType
		switch {
		case ipcSysctls[key] || strings.HasPrefix(key, "fs.mqueue."):
			need = specs.IPCNamespace
		case strings.HasPrefix(key, "net."):
			need = specs.NetworkNamespace
		case key == "kernel.hostname" || key == "kernel.domainname":
			need = specs.UTSNamespace
		default:
			errs = append(errs, fmt.Errorf("linux.sysctl[%q]: not namespaced: setting it would change the host", key))
			continue
		}
		if !hasNamespace(spec, need) {
			errs = append(errs, fmt.Errorf("linux.sysctl[%q]: needs a %s namespace in linux.namespaces", key, need))
		} else if path := namespacePath(spec, need); path != "" && isHostNamespace(path, need) {
			errs = append(errs, fmt.Errorf("linux.sysctl[%q]: the %s namespace joined (%s) is the host's: setting it would change the host", key, need, path))
		}
	}
	return errors.Join(errs...)
}

// namespacePath is the path of the namespace of type typ the spec joins, ""
// for a new one.
func namespacePath(spec *specs.Spec, typ specs.LinuxNamespaceType) string {
	if spec.Linux == nil {
		return ""
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == typ {
			return ns.Path
		}
	}
	return ""
}

// isHostNamespace: path is the namespace hull itself runs in (runc's
// check for a joined one). One that cannot be looked at is not judged
// here: checkNamespacePath reports it.
func isHostNamespace(path string, typ specs.LinuxNamespaceType) bool {
	var joined, own unix.Stat_t
	if unix.Stat(path, &joined) != nil || unix.Stat("/proc/self/ns/"+nsenter.ProcName(typ), &own) != nil {
		return false
	}
	return joined.Dev == own.Dev && joined.Ino == own.Ino
}
