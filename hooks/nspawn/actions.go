package nspawn

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/hooks/machined"
	"github.com/hull-runtime/hull/nspawnconv/syscontainer"
	"github.com/hull-runtime/hull/oci"
)

// Hook actions, as nspawnconv names them in HookStep.Action.
const (
	ActionChownCgroup = "chown-cgroup" // createRuntime: BASE-UID
	ActionUmount      = "umount"       // poststop: PATH
	ActionRemoveTree  = "remove-tree"  // poststop: PATH
	ActionPrepare     = "prepare"      // by hand: BUNDLE (re-apply the recorded pre-steps)
	ActionRegister    = "register"     // createRuntime: MODE NAME UUID ROOT SLICE KEEP-UNIT [HOST-IF…] [--property=P…]
	ActionUnregister  = "unregister"   // poststop: NAME
)

// CgroupRoot is where the host's cgroup hierarchies are mounted.
const CgroupRoot = "/sys/fs/cgroup"

// RunAction performs one hook action. st is the container state the
// runtime passed on the hook's stdin (nil for actions that need none).
func RunAction(action string, args []string, st *specs.State) error {
	need := func(n int) error {
		if len(args) != n {
			return fmt.Errorf("nspawn-hook %s: want %d argument(s), got %q", action, n, args)
		}
		return nil
	}
	switch action {
	case ActionChownCgroup:
		if err := need(1); err != nil {
			return err
		}
		base, err := strconv.ParseUint(args[0], 10, 32)
		if err != nil {
			return fmt.Errorf("nspawn-hook chown-cgroup: base uid %q: %w", args[0], err)
		}
		if st == nil || st.Pid <= 0 {
			return errors.New("nspawn-hook chown-cgroup: the container state on stdin has no pid")
		}
		return ChownCgroup(CgroupRoot, st.Pid, int(base))
	case ActionUmount:
		if err := need(1); err != nil {
			return err
		}
		return Umount(args[0])
	case ActionRemoveTree:
		if err := need(1); err != nil {
			return err
		}
		return RemoveTree(args[0])
	case ActionAddVeth, ActionAddMacvlan, ActionAddIPVlan, ActionRemoveZone, ActionRemoveLink:
		return runLinkAction(action, args, st)
	case ActionAddPorts, ActionWatchPorts, ActionRemovePorts:
		return runPortAction(action, args, st)
	case ActionAddZone:
		if err := need(1); err != nil {
			return err
		}
		return AddZone(args[0])
	case ActionRegister:
		return register(args, st)
	case ActionUnregister:
		if err := need(1); err != nil {
			return err
		}
		if !machined.Reachable() {
			return nil // nothing can have registered it
		}
		return machined.Unregister(args[0])
	case ActionPrepare:
		if err := need(1); err != nil {
			return err
		}
		return Prepare(args[0], nil)
	default:
		return fmt.Errorf("nspawn-hook: unknown action %q", action)
	}
}

// NeedsState reports whether action reads the container's state, which
// the runtime writes on the hook's stdin.
func NeedsState(action string) bool {
	switch action {
	case ActionChownCgroup, ActionRegister, ActionAddVeth, ActionAddMacvlan, ActionAddIPVlan, ActionRemoveLink, ActionRemoveZone,
		ActionAddPorts, ActionRemovePorts:
		return true
	}
	return false
}

// runLinkAction makes or removes a link of the container, found through
// the id and pid in the state.
func runLinkAction(action string, args []string, st *specs.State) error {
	// Poststop states may carry no pid (runc's): removal needs the id only.
	removal := action == ActionRemoveLink || action == ActionRemoveZone
	if st == nil || st.ID == "" || (st.Pid <= 0 && !removal) {
		return fmt.Errorf("nspawn-hook %s: the container state on stdin has no id or pid", action)
	}
	ref := ContainerRef{ID: st.ID, Pid: st.Pid}
	bad := fmt.Errorf("nspawn-hook %s: wrong arguments %q", action, args)
	switch {
	case action == ActionAddVeth && (len(args) == 3 || len(args) == 4):
		bridge := ""
		if len(args) == 4 {
			bridge = args[3]
		}
		return AddVeth(ref, args[0], args[1], args[2], bridge)
	case action == ActionAddMacvlan && len(args) == 4:
		index, err := strconv.Atoi(args[3])
		if err != nil {
			return bad
		}
		return AddMacvlan(ref.Pid, args[0], args[1], args[2], index)
	case action == ActionAddIPVlan && len(args) == 2:
		return AddIPVlan(ref.Pid, args[0], args[1])
	case action == ActionRemoveLink && len(args) == 1:
		return RemoveLink(ref, args[0])
	case action == ActionRemoveZone && len(args) == 1:
		return RemoveZone(ref, args[0])
	}
	return bad
}

// ReadState decodes the state a runtime writes on a hook's stdin.
func ReadState(f *os.File) (*specs.State, error) {
	var st specs.State
	if err := json.NewDecoder(f).Decode(&st); err != nil {
		return nil, fmt.Errorf("read container state from stdin: %w", err)
	}
	return &st, nil
}

// ChownCgroup gives the container's own cgroups in the hierarchies systemd
// manages (name=systemd and the cgroup2 one) to the container's root user,
// so a systemd in a user namespace can create its sub-cgroups. Controller
// hierarchies stay root's: they are mounted read-only inside anyway.
func ChownCgroup(cgroupRoot string, pid, uid int) error {
	paths, err := pidCgroups(pid)
	if err != nil {
		return err
	}
	return delegateCgroups(cgroupRoot, paths, uid)
}

// v2DelegationFiles are what the kernel's cgroup v2 delegation model hands
// to the delegatee besides the directory; its resource files (memory.max,
// pids.max, …) stay root's, or the container could lift its own limits.
var v2DelegationFiles = []string{"cgroup.procs", "cgroup.threads", "cgroup.subtree_control"}

// delegateCgroups chowns the container's name=systemd cgroup (no
// controllers there: every file) and its cgroup2 one (the delegation
// files), given the paths from /proc/PID/cgroup.
func delegateCgroups(cgroupRoot string, paths map[string]string, uid int) error {
	type target struct {
		dir   string
		files []string // nil: every file
	}
	var targets []target
	// A shared root cgroup is never the container's to give away.
	if p := paths["name=systemd"]; p != "" && p != "/" {
		targets = append(targets, target{filepath.Join(cgroupRoot, "systemd", p), nil})
	}
	if p := paths[""]; p != "" && p != "/" {
		targets = append(targets, target{filepath.Join(unifiedRoot(cgroupRoot), p), v2DelegationFiles})
	}
	for _, tg := range targets {
		if _, err := os.Stat(tg.dir); errors.Is(err, fs.ErrNotExist) {
			continue // no such hierarchy on this host
		}
		if err := chownDir(tg.dir, tg.files, uid); err != nil {
			return err
		}
	}
	return nil
}

// unifiedRoot is where the cgroup2 hierarchy is mounted: cgroupRoot itself
// on a unified host, its "unified" directory on a hybrid one.
func unifiedRoot(cgroupRoot string) string {
	var st unix.Statfs_t
	if unix.Statfs(cgroupRoot, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return cgroupRoot
	}
	return filepath.Join(cgroupRoot, "unified")
}

// chownDir chowns a cgroup directory and the named control files in it,
// or all of them when files is nil (not the sub-cgroups: at createRuntime
// there are none). A named file the kernel lacks is skipped.
func chownDir(dir string, files []string, uid int) error {
	if err := os.Lchown(dir, uid, uid); err != nil {
		return fmt.Errorf("chown cgroup %s to %d: %w", dir, uid, err)
	}
	if files == nil {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("chown cgroup %s: %w", dir, err)
		}
		for _, e := range entries {
			if !e.IsDir() {
				files = append(files, e.Name())
			}
		}
	}
	for _, f := range files {
		err := os.Lchown(filepath.Join(dir, f), uid, uid)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("chown cgroup %s: %w", filepath.Join(dir, f), err)
		}
	}
	return nil
}

// pidCgroups maps "name=systemd", "cpu,cpuacct", … and "" (cgroup2) to the
// process's cgroup paths.
func pidCgroups(pid int) (map[string]string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil, fmt.Errorf("container cgroups: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) == 3 {
			out[parts[1]] = parts[2]
		}
	}
	return out, sc.Err()
}

// Umount detaches the mount at path; a path that is not (or no longer) a
// mount point is success, so poststop can run twice.
func Umount(path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("umount %q: path is not absolute", path)
	}
	mounted, err := IsMountPoint(path)
	if err != nil || !mounted {
		return err
	}
	if err := unix.Unmount(path, 0); err != nil {
		if !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("umount %s: %w", path, err)
		}
		// Busy: something still holds it (a lingering process); detach so
		// it goes away with its last user.
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("umount -l %s: %w", path, err)
		}
	}
	return nil
}

// RemoveTree deletes a throw-away directory the conversion made, refusing
// if anything is still mounted below it (removing there would delete the
// mounted file system's contents, e.g. the image under an overlay).
func RemoveTree(path string) error {
	clean := filepath.Clean(path)
	if !filepath.IsAbs(clean) || clean == "/" {
		return fmt.Errorf("remove-tree %q: refusing a relative path or /", path)
	}
	mounts, err := MountsUnder(clean)
	if err != nil {
		return err
	}
	if len(mounts) > 0 {
		return fmt.Errorf("remove-tree %s: still mounted: %s", clean, strings.Join(mounts, " "))
	}
	return os.RemoveAll(clean)
}

// Prepare applies the pre-steps recorded in a bundle by `hull convert`.
func Prepare(bundle string, warn func(string)) error {
	data, err := os.ReadFile(filepath.Join(bundle, PreStepsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	steps, err := DecodePreSteps(data)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(bundle, PreStepsFile), err)
	}
	return ApplyPreSteps(steps, warn)
}

// register makes the container a machine of systemd-machined. Mode "auto"
// registers only when machined is reachable (a host without systemd runs
// the bundle all the same); "yes" fails the container's creation instead.
func register(args []string, st *specs.State) error {
	if len(args) < 6 {
		return fmt.Errorf("nspawn-hook register: want MODE NAME UUID ROOT SLICE KEEP-UNIT [HOST-IF…] [--property=NAME=VALUE…], got %q", args)
	}
	if st == nil || st.Pid <= 0 {
		return errors.New("nspawn-hook register: the container state on stdin has no pid")
	}
	mode := args[0]
	if mode != "auto" && mode != "yes" {
		return fmt.Errorf("nspawn-hook register: mode %q: want auto or yes", mode)
	}
	if !machined.Reachable() {
		if mode == "auto" {
			return nil
		}
		return fmt.Errorf("--register=yes: systemd-machined is not reachable on the system bus (%s)", machined.SystemBusSocket)
	}
	m := machined.Machine{
		Name: args[1], ID: args[2], Root: args[3], Slice: args[4], KeepUnit: args[5] == "yes",
		Service: "hull", Leader: st.Pid,
	}
	if name := st.Annotations[syscontainer.AnnotationKillSignal]; name != "" {
		sig, err := oci.ParseSignal(name)
		if err != nil {
			return fmt.Errorf("nspawn-hook register: annotation %s: %w", syscontainer.AnnotationKillSignal, err)
		}
		m.KillSignal = int(sig)
	}
	// Host interface names never start with "-".
	for _, a := range args[6:] {
		if p, ok := strings.CutPrefix(a, "--property="); ok {
			m.Properties = append(m.Properties, p)
		} else {
			m.NetIfs = append(m.NetIfs, a)
		}
	}
	return machined.Register(m)
}
