// Package nsenter puts hull's container processes into their namespaces and
// cgroups before the Go runtime starts (see nsenter.c for why this is C), and
// serves its side of the handshake (messages in libcontainer/wire).
//
// Any binary that imports this package runs the C constructor at start-up; it
// returns at once unless the process was started with the environment that
// Request.Env builds.
package nsenter

//go:generate go run ./internal/errtextgen errtext.h

/*
#cgo CFLAGS: -Wall -Wextra -std=gnu11
#include "nsenter.h"

// In hull's own binary the C stage runs before the Go runtime starts; in
// hull-stage (stage_main.c) main() calls it instead. Priority 101: first of
// hull's constructors, so that a stage process, which execs or exits in
// here, pays for none of the others.
__attribute__((constructor(101))) static void hull_nsenter(void)
{
	hull_stage();
}
*/
import "C"

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/wire"
)

// StageName is the C stage as a program of its own (stage_main.c), which
// hull starts from beside its binary for a Request with Finish set.
const StageName = "hull-stage"

// StageABI is HULL_STAGE_ABI (nsenter.h), sent to a finisher's C stage.
const StageABI = C.HULL_STAGE_ABI

// Join is a namespace to enter by path.
type Join struct {
	Type specs.LinuxNamespaceType
	Path string
}

// Request is what the C stage does, in its order: enter HomeMount, join
// namespaces, create namespaces.
type Request struct {
	// HomeMount is the mount namespace the C stage enters first: the
	// caller's, since the C stage starts in exeseal's private namespace.
	HomeMount   string
	Joins       []Join
	Unshare     uintptr // CLONE_NEW* flags
	TimeOffsets map[string]specs.LinuxTimeOffset
	// TasksFiles are cgroup v1 tasks files the C stage writes "0" into
	// before it clones; CgroupDir is a cgroup2 directory the container
	// process is cloned into (CLONE_INTO_CGROUP).
	TasksFiles []string
	CgroupDir  string
	// Finish, when set, makes the container process run the C finisher
	// (finish.c), which waits for a wire.MsgProcess, instead of the Go init.
	Finish Finish
}

// Finish is what the C finisher finishes (nsenter.h HULL_FINISH_*).
type Finish int

const (
	NoFinish Finish = iota
	// FinishExec: an exec'd process, in namespaces that exist.
	FinishExec
	// FinishInit: a container's init whose rootfs the parent builds: it
	// asks for it (wire.MsgBuildRootfs) before its process message.
	FinishInit
	// FinishInitCgroupNS: FinishInit that first unshares its cgroup namespace.
	FinishInitCgroupNS
)

var cloneFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.UserNamespace: unix.CLONE_NEWUSER, specs.MountNamespace: unix.CLONE_NEWNS,
	specs.PIDNamespace: unix.CLONE_NEWPID, specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.IPCNamespace: unix.CLONE_NEWIPC, specs.UTSNamespace: unix.CLONE_NEWUTS,
	specs.CgroupNamespace: unix.CLONE_NEWCGROUP, specs.TimeNamespace: unix.CLONE_NEWTIME,
}

// procNames are the names of namespace files under /proc/PID/ns.
var procNames = map[specs.LinuxNamespaceType]string{
	specs.UserNamespace: "user", specs.MountNamespace: "mnt", specs.PIDNamespace: "pid",
	specs.NetworkNamespace: "net", specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts",
	specs.CgroupNamespace: "cgroup", specs.TimeNamespace: "time",
}

// ProcName is the file name of a namespace type under /proc/PID/ns.
func ProcName(t specs.LinuxNamespaceType) string { return procNames[t] }

// CloneFlag is the CLONE_NEW* flag of a namespace type.
func CloneFlag(t specs.LinuxNamespaceType) uintptr { return cloneFlags[t] }

// FromSpec turns linux.namespaces into joins (entries with a path) and new
// namespaces (entries without).
func FromSpec(namespaces []specs.LinuxNamespace) (joins []Join, unshare uintptr) {
	for _, ns := range namespaces {
		if ns.Path != "" {
			joins = append(joins, Join{Type: ns.Type, Path: ns.Path})
		} else {
			unshare |= cloneFlags[ns.Type]
		}
	}
	return joins, unshare
}

// Env is the environment that makes the C stage act on r; syncFD is the
// sync socket's fd number in the child.
func (r *Request) Env(syncFD int) []string {
	env := []string{"_HULL_NSENTER=" + strconv.Itoa(syncFD)}
	if r.HomeMount != "" {
		env = append(env, "_HULL_MNTNS="+r.HomeMount)
	}
	if len(r.Joins) > 0 {
		lines := make([]string, len(r.Joins))
		for i, j := range r.Joins {
			lines[i] = procNames[j.Type] + ":" + j.Path
		}
		env = append(env, "_HULL_JOIN="+strings.Join(lines, "\n"))
	}
	if r.Unshare != 0 {
		env = append(env, "_HULL_UNSHARE="+strconv.FormatUint(uint64(r.Unshare), 10))
	}
	if len(r.TimeOffsets) > 0 {
		env = append(env, "_HULL_TIMENS="+timensOffsets(r.TimeOffsets))
	}
	if cg := r.cgroupEnv(); cg != "" {
		env = append(env, "_HULL_CGROUP="+cg)
	}
	if r.Finish != NoFinish {
		env = append(env, "_HULL_FINISH="+strconv.Itoa(int(r.Finish)), "_HULL_STAGE_ABI="+strconv.Itoa(StageABI))
	}
	return env
}

func (r *Request) cgroupEnv() string {
	lines := make([]string, 0, len(r.TasksFiles)+1)
	for _, f := range r.TasksFiles {
		lines = append(lines, "t:"+f)
	}
	if r.CgroupDir != "" {
		lines = append(lines, "c:"+r.CgroupDir)
	}
	return strings.Join(lines, "\n")
}

func timensOffsets(offsets map[string]specs.LinuxTimeOffset) string {
	clocks := make([]string, 0, len(offsets))
	for clock := range offsets {
		clocks = append(clocks, clock)
	}
	sort.Strings(clocks)
	var b strings.Builder
	for _, clock := range clocks {
		o := offsets[clock]
		fmt.Fprintf(&b, "%s %d %d\n", clock, o.Secs, o.Nanosecs)
	}
	return b.String()
}

// Handshake is the parent's side of the C stage: it writes the id maps when
// asked (mapIDs gets the pid of the process asking) and returns the pid of
// the container process, or the error the child reported.
func Handshake(rw io.ReadWriter, childPid int, mapIDs func(pid int) error) (int, error) {
	for {
		typ, payload, err := wire.Read(rw)
		if err != nil {
			return 0, fmt.Errorf("namespace setup: %w", err)
		}
		switch typ {
		case wire.MsgMapIDs:
			if mapIDs == nil {
				return 0, errors.New("namespace setup: child asked for id maps, none configured")
			}
			if err := mapIDs(childPid); err != nil {
				return 0, err
			}
			if err := wire.Write(rw, wire.MsgMapped, nil); err != nil {
				return 0, err
			}
		case wire.MsgPid:
			pid, err := strconv.Atoi(string(payload))
			if err != nil {
				return 0, fmt.Errorf("namespace setup: bad pid %q", payload)
			}
			return pid, nil
		case wire.MsgError:
			return 0, errors.New(string(payload))
		default:
			return 0, fmt.Errorf("namespace setup: unexpected message %q", typ)
		}
	}
}
