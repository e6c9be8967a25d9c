// Package criu runs CRIU, the program that checkpoints a container's
// processes to image files and restores them: the command lines of its
// dump and restore for a container, the record of the init's stdio that
// goes with an image, and the run itself.
//
// hull runs the criu command rather than its RPC service (go-criu): the
// command needs no protobuf code in the runtime's binary, whose size is
// what every hull command pays at start (docs/design.md, "Checkpoint and
// restore"), and criu's command line says all that hull asks of it.
package criu

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// CheckManageCgroupsMode: m is a value of --manage-cgroups-mode, as runc
// takes them (criu's own names), or "" for criu's default.
func CheckManageCgroupsMode(m string) error {
	switch m {
	case "", "soft", "full", "strict", "ignore":
		return nil
	}
	return fmt.Errorf("--manage-cgroups-mode %q: must be one of soft, full, strict or ignore", m)
}

// Options are the choices common to dump and restore (runc's flags).
type Options struct {
	ImagesDir string // --image-path
	WorkDir   string // --work-path: logs and the pid file; ImagesDir when empty
	// TCPEstablished, ExtUnixSk, ShellJob and FileLocks are criu's
	// --tcp-established, --ext-unix-sk, --shell-job and --file-locks.
	TCPEstablished, ExtUnixSk, ShellJob, FileLocks bool
	AutoDedup                                      bool   // --auto-dedup
	ManageCgroupsMode                              string // "" is criu's default (soft)
	// BindMounts are the container's bind mounts by destination, with
	// their host sources (dump uses only the destinations): criu leaves
	// them out of the image and binds them anew at restore.
	BindMounts []BindMount
	// NetnsKey names a network namespace the container joined rather than
	// made: dump marks it external under this key, and restore gives the
	// namespace to join as an inherited fd of that key.
	NetnsKey string
}

// BindMount is one bind mount of the container.
type BindMount struct{ Destination, Source string }

// Dump is what `criu dump` needs beyond Options.
type Dump struct {
	Options
	Pid          int  // the container's init
	LeaveRunning bool // --leave-running
	// FreezeCgroup is the container's freezer cgroup directory: criu
	// freezes the whole cgroup to collect the tasks, as runc has it do,
	// rather than seizing them one by one while they may still fork.
	FreezeCgroup string
	NetnsInode   uint64 // the joined network namespace's inode (with NetnsKey)
}

// Restore is what `criu restore` needs beyond Options.
type Restore struct {
	Options
	Root       string // the container's root filesystem, a mount point
	CgroupRoot string // the container's cgroup path, where the tasks go
	PidFile    string // where criu writes the restored init's pid
	// JoinNS are namespaces to restore the tasks into, as criu's
	// --join-ns takes them ("ipc:/path").
	JoinNS []string
	// InheritFDs maps an fd criu inherits (its number in criu) to the key
	// of the file it stands for in the image (an entry of Descriptors, or
	// NetnsKey).
	InheritFDs map[int]string
	// ActionScript is the program criu runs at each step of the restore
	// (--action-script), with Env added to criu's environment.
	ActionScript string
	Env          []string
}

// LogName is the file, in the work directory, of each action's log.
func LogName(action string) string { return action + ".log" }

// LogDir is where criu writes its logs: the work directory, else the
// images directory.
func (o Options) LogDir() string {
	if o.WorkDir != "" {
		return o.WorkDir
	}
	return o.ImagesDir
}

// common are the arguments of both actions.
func (o Options) common(action string) []string {
	args := []string{action, "--images-dir", o.ImagesDir, "--work-dir", o.LogDir(),
		"--log-file", LogName(action), "-v4"}
	for _, f := range []struct {
		on   bool
		flag string
	}{{o.TCPEstablished, "--tcp-established"}, {o.ExtUnixSk, "--ext-unix-sk"}, {o.ShellJob, "--shell-job"}, {o.FileLocks, "--file-locks"}, {o.AutoDedup, "--auto-dedup"}} {
		if f.on {
			args = append(args, f.flag)
		}
	}
	// As runc: the network namespace's contents (links, addresses,
	// routes, firewall) are not the runtime's to dump or restore; restore
	// makes the namespace empty for the engine to set up again.
	args = append(args, "--empty-ns", "net")
	if o.ManageCgroupsMode != "" {
		args = append(args, "--manage-cgroups="+o.ManageCgroupsMode)
	} else {
		args = append(args, "--manage-cgroups")
	}
	return args
}

// Args is the command line of `criu dump`.
func (d Dump) Args() []string {
	args := append(d.common("dump"), "--tree", strconv.Itoa(d.Pid))
	if d.LeaveRunning {
		args = append(args, "--leave-running")
	}
	if d.FreezeCgroup != "" {
		args = append(args, "--freeze-cgroup", d.FreezeCgroup)
	}
	for _, m := range d.BindMounts {
		args = append(args, "--external", "mnt["+m.Destination+"]:"+m.Destination)
	}
	if d.NetnsKey != "" {
		args = append(args, "--external", "net["+strconv.FormatUint(d.NetnsInode, 10)+"]:"+d.NetnsKey)
	}
	return args
}

// Args is the command line of `criu restore`. The root task is restored
// as a sibling of criu, so a child of the runtime, and criu returns once
// the tasks run.
func (r Restore) Args() []string {
	args := append(r.common("restore"), "--root", r.Root, "--restore-detached", "--restore-sibling",
		"--pidfile", r.PidFile)
	if r.CgroupRoot != "" {
		args = append(args, "--cgroup-root", r.CgroupRoot)
	}
	for _, m := range r.BindMounts {
		args = append(args, "--external", "mnt["+m.Destination+"]:"+m.Source)
	}
	for _, ns := range r.JoinNS {
		args = append(args, "--join-ns", ns)
	}
	if r.ActionScript != "" {
		args = append(args, "--action-script", r.ActionScript)
	}
	fds := make([]int, 0, len(r.InheritFDs))
	for fd := range r.InheritFDs {
		fds = append(fds, fd)
	}
	slices.Sort(fds)
	for _, fd := range fds {
		args = append(args, "--inherit-fd", "fd["+strconv.Itoa(fd)+"]:"+r.InheritFDs[fd])
	}
	return args
}

// DescriptorsFile is the record, in the images directory, of what the
// init's fds 0, 1 and 2 were at dump (runc's name and format: a JSON array
// of /proc/PID/fd link targets), so that restore can hand the new stdio in
// their place.
const DescriptorsFile = "descriptors.json"

// ReadDescriptors reads the link targets of pid's fds 0, 1 and 2.
func ReadDescriptors(pid int) ([]string, error) {
	out := make([]string, 3)
	for fd := range out {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		out[fd] = target
	}
	return out, nil
}

// WriteDescriptors saves descriptors in dir.
func WriteDescriptors(dir string, descriptors []string) error {
	data, err := json.Marshal(descriptors)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, DescriptorsFile), data, 0o600)
}

// LoadDescriptors reads dir's record; an image without one (made by
// criu itself) has none to hand over.
func LoadDescriptors(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, DescriptorsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, DescriptorsFile), err)
	}
	return out, nil
}

// StdioToInherit maps the caller's stdio fds to the image's keys for them:
// each fd that was a pipe or a socket at dump (a path criu reopens by
// itself) gets the caller's fd of the same number in its place, as runc
// does.
func StdioToInherit(descriptors []string) map[int]string {
	out := map[int]string{}
	for fd, d := range descriptors {
		if fd > 2 {
			break
		}
		if strings.HasPrefix(d, "pipe:") || strings.HasPrefix(d, "socket:") {
			out[fd] = d
		}
	}
	return out
}

// Run runs criu (the program at path) with args, env added to the
// caller's environment and the extra files (fds 3, 4, ... in criu); stdio
// is the caller's. A failure names the log to read and quotes its last
// error lines.
func Run(path string, args, env []string, workDir string, extra []*os.File) error {
	bin, err := exec.LookPath(path)
	if err != nil {
		return fmt.Errorf("criu: %w (checkpoint and restore need CRIU: install the criu package, or name it with --criu)", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = extra
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	if err := cmd.Run(); err != nil {
		log := filepath.Join(workDir, LogName(args[0]))
		return fmt.Errorf("criu %s: %w; see %s%s", args[0], err, log, lastErrors(log))
	}
	return nil
}

// lastErrors quotes the last few "Error" lines of a criu log.
func lastErrors(log string) string {
	data, err := os.ReadFile(log)
	if err != nil {
		return ""
	}
	var errs []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, "Error") {
			errs = append(errs, strings.TrimSpace(line))
		}
	}
	if len(errs) > 3 {
		errs = errs[len(errs)-3:]
	}
	if len(errs) == 0 {
		return ""
	}
	return ": " + strings.Join(errs, "; ")
}
