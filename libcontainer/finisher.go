package libcontainer

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/capabilities"
	"github.com/hull-runtime/hull/libcontainer/cgroups"
	"github.com/hull-runtime/hull/libcontainer/console"
	"github.com/hull-runtime/hull/libcontainer/nsenter"
	"github.com/hull-runtime/hull/libcontainer/process"
	"github.com/hull-runtime/hull/libcontainer/seccomp"
	"github.com/hull-runtime/hull/libcontainer/wire"
)

// goInitEnv, set to 1, makes every process use the Go init: a switch for
// A/B measurements and for tests that compare the two.
const goInitEnv = "HULL_GO_INIT"

// finisherRefusal says why the C finisher (nsenter/finish.c) cannot
// finish this process, so the Go init must; "" when it can. The finisher
// leaves out what needs a parser, a pty of its own making or a round trip.
func finisherRefusal(spec *specs.Spec, filter []byte) string {
	p := spec.Process
	switch {
	case os.Getenv(goInitEnv) == "1":
		return goInitEnv + "=1"
	case p.Terminal && (hasNamespace(spec, specs.UserNamespace) || runningInUserNS()):
		return "process.terminal with a user namespace"
	case p.ApparmorProfile != "":
		return "process.apparmorProfile"
	case p.Scheduler != nil:
		return "process.scheduler"
	case p.ExecCPUAffinity != nil && p.ExecCPUAffinity.Final != "":
		return "process.execCPUAffinity.final"
	case spec.Linux != nil && spec.Linux.MemoryPolicy != nil:
		return "linux.memoryPolicy"
	case !ownsNamespace(spec, specs.MountNamespace):
		return "no mount namespace of its own (chroot)"
	}
	if filter != nil {
		var f seccomp.Filter
		if f.UnmarshalBinary(filter) != nil || f.Notify() {
			return "linux.seccomp with a listener"
		}
	}
	return ""
}

// initFinisher is the input of the C finisher's message when the finisher
// can be the container's init, or nil when the Go init must be: it needs
// hull create to build the rootfs (the finisher makes no mount) and runs no
// startContainer hook (a hook runs between start and exec, in the init).
func initFinisher(spec *specs.Spec, cfg *initConfig) (*finisherOpts, error) {
	if !cfg.RootfsBuilt || finisherRefusal(spec, cfg.Seccomp) != "" ||
		(spec.Hooks != nil && len(spec.Hooks.StartContainer) > 0) {
		return nil, nil
	}
	caps, err := capabilities.New(spec.Process.Capabilities)
	if err != nil {
		return nil, fmt.Errorf("set process attributes: %w", err)
	}
	o := &finisherOpts{preserveFDs: cfg.PreserveFDs, fifoFD: cfg.FifoFD, seccomp: cfg.Seccomp, capabilities: caps}
	o.keyring = sessionKeyring(cfg.ID, cfg.NoNewKeyring)
	return o, nil
}

// sessionKeyring names the container's session keyring, as runc does: its
// init and every process exec'd into it join that one, not the caller's;
// "" with --no-new-keyring, which keeps the caller's.
func sessionKeyring(id string, noNewKeyring bool) string {
	if noNewKeyring {
		return ""
	}
	return "_ses." + id
}

// finisherOpts are the parts of the process message that are not in the spec.
type finisherOpts struct {
	rootPid      int // a process whose root is the container's (/proc/PID/root)
	preserveFDs  int
	fifoFD       int // exec.fifo for the init; -1 for exec
	keyring      string
	seccomp      []byte // compiled filter (seccomp.Filter binary form) or nil
	capabilities *capabilities.Set
}

// finisherProcess resolves spec.process into the finisher's message. The
// program and HOME are looked up in the container's root through
// /proc/PID/root with RESOLVE_IN_ROOT, as the Go init looks them up from
// inside; errors carry the Go init's step names.
func finisherProcess(spec *specs.Spec, o finisherOpts) (*wire.Process, error) {
	proc := spec.Process
	m := &wire.Process{
		UID: proc.User.UID, GID: proc.User.GID, Umask: 0o022, IOPrio: -1, Personality: -1,
		PreserveFDs: uint32(o.preserveFDs), FifoFD: int32(o.fifoFD), ConsoleFD: -1,
		Cwd: proc.Cwd, Keyring: o.keyring, Args: proc.Args,
	}
	if err := finisherAttributes(spec, m); err != nil {
		return nil, fmt.Errorf("set process attributes: %w", err)
	}
	m.Caps[wire.CapBounding], m.Caps[wire.CapEffective], m.Caps[wire.CapInheritable], m.Caps[wire.CapPermitted], m.Caps[wire.CapAmbient] = o.capabilities.Masks()
	m.LastCap = uint32(o.capabilities.LastCap())
	m.Groups = []uint32{} // additionalGids alone, as process.SetUser
	for _, g := range proc.User.AdditionalGids {
		if !slices.Contains(m.Groups, g) {
			m.Groups = append(m.Groups, g)
		}
	}
	if u := proc.User.Umask; u != nil {
		if *u > 0o777 {
			return nil, fmt.Errorf("drop privileges: process.user.umask: %#o out of range [0, 0777]", *u)
		}
		m.Umask = *u
	}
	if proc.NoNewPrivileges {
		m.Flags |= wire.FlagNoNewPrivs
	}
	if o.seccomp != nil {
		var f seccomp.Filter
		if err := f.UnmarshalBinary(o.seccomp); err != nil {
			return nil, fmt.Errorf("linux.seccomp: %w", err)
		}
		flags, prog := f.Program()
		m.SeccompFlags, m.Seccomp = uint32(flags), prog
		if !proc.NoNewPrivileges {
			m.Flags |= wire.FlagSeccompEarly
		}
	}
	if err := resolveInRoot(o.rootPid, m, proc); err != nil {
		return nil, err
	}
	return m, nil
}

func finisherAttributes(spec *specs.Spec, m *wire.Process) error {
	proc := spec.Process
	if err := process.ValidateRlimits(proc.Rlimits); err != nil {
		return err
	}
	for _, r := range proc.Rlimits {
		res, _ := process.ParseRlimit(r.Type)
		m.Rlimits = append(m.Rlimits, wire.Rlimit{Resource: uint32(res), Soft: r.Soft, Hard: r.Hard})
	}
	if proc.IOPriority != nil {
		v, err := process.IOPrioValue(proc.IOPriority)
		if err != nil {
			return err
		}
		m.IOPrio = int32(v)
	}
	if spec.Linux != nil && spec.Linux.Personality != nil {
		v, err := process.PersonalityValue(spec.Linux.Personality)
		if err != nil {
			return err
		}
		m.Personality = int64(v)
	}
	return nil
}

// resolveInRoot fills in the program's path and HOME from the container's
// root as the process will see it.
func resolveInRoot(pid int, m *wire.Process, proc *specs.Process) error {
	root, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the container's root: %w", err)
	}
	defer unix.Close(root)
	m.Env = process.WithHomeAt(proc.Env, root, proc.User.UID)
	if m.Program, err = process.LookPathAt(root, proc.Args[0], m.Env, proc.Cwd); err != nil {
		return fmt.Errorf("find program: %w", err)
	}
	return nil
}

// execPty makes the exec'd process's pty in the container's devpts (its
// /dev/ptmx, opened through /proc/<init>/root), sends the master over the
// console socket as the Go init would, and returns the slave, which the
// finisher makes its stdio and controlling terminal.
func execPty(rootPid int, size *specs.Box, sock *os.File) (*os.File, error) {
	root, err := unix.Open("/proc/"+strconv.Itoa(rootPid)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("set up console: open the container's root: %w", err)
	}
	defer unix.Close(root)
	// Opened by hull, in the host's cgroup: only once it is a ptmx, as the
	// init's console checks it (a container can put any node there).
	ptmx, err := process.OpenCheckedIn(root, "/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY, console.IsPtmx)
	if err != nil {
		return nil, fmt.Errorf("set up console: %w", err)
	}
	master, slave, err := console.PtyFrom(ptmx, size)
	if err != nil {
		return nil, fmt.Errorf("set up console: %w", err)
	}
	defer master.Close()
	if err := console.SendFd(sock, console.PtyName(master), master.Fd()); err != nil {
		slave.Close()
		return nil, fmt.Errorf("set up console: %w", err)
	}
	return slave, nil
}

// sendProcess hands the finisher its message.
func sendProcess(sync *os.File, m *wire.Process) error {
	data, err := m.Encode()
	if err != nil {
		return fmt.Errorf("process message: %w", err)
	}
	if err := wire.Write(sync, wire.MsgProcess, data); err != nil {
		return fmt.Errorf("send process message: %w", err)
	}
	return nil
}

// bornInCgroup asks the C stage to join cg before it clones: a v1
// hierarchy by its tasks file, the cgroup2 one (a hybrid host's unified,
// or v2) by CLONE_INTO_CGROUP.
func bornInCgroup(req *nsenter.Request, cg cgroups.Manager) {
	for _, j := range cgroups.JoinDirs(cg) {
		if j.Pids && !roomForTwo(j.Dir) {
			continue // the parent places the process (placeProcess)
		}
		if j.Cgroup2 {
			// In a new user namespace the clone's creds are its root's,
			// which may not write there: the parent places that one.
			if req.CgroupDir == "" && !entersUserNS(req) {
				req.CgroupDir = j.Dir
			} // else: one clone3 joins one; the parent places the process in the other
			continue
		}
		req.TasksFiles = append(req.TasksFiles, filepath.Join(j.Dir, "tasks"))
	}
}

// roomForTwo reports whether the C stage and its clone both fit under the
// cgroup's pids.max: with pids.limit 1 the C stage, once in the cgroup,
// could not clone (EAGAIN), so the process is moved there after its birth.
func roomForTwo(dir string) bool {
	n, limited := cgroups.PidsMax(dir)
	return !limited || n >= 2
}

func entersUserNS(req *nsenter.Request) bool {
	if req.Unshare&unix.CLONE_NEWUSER != 0 {
		return true
	}
	for _, j := range req.Joins {
		if j.Type == specs.UserNamespace {
			return true
		}
	}
	return false
}

// inCgroup reports whether pid is listed in every cgroup.procs of cg: a
// read, where a write (cg.Apply) would wait for the kernel's threadgroup
// lock even for a process already there. Hierarchies whose tasks file is
// in joined are not read: the C stage wrote there before it cloned pid,
// and reports no pid when a write fails, so pid was born in them.
func inCgroup(cg cgroups.Manager, pid int, joined []string) bool {
	want := strconv.Itoa(pid)
	for _, f := range cg.ProcsFiles() {
		if slices.Contains(joined, filepath.Join(filepath.Dir(f), "tasks")) {
			continue
		}
		data, err := cgroups.ReadControl(f)
		if err != nil || !slices.Contains(strings.Fields(string(data)), want) {
			return false
		}
	}
	return true
}
