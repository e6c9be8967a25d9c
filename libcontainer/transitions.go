package libcontainer

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/oci"
)

// Op is an operation on an existing container, named as the command line
// spells it (a flag that changes which states it accepts is its own Op).
type Op string

// The operations the lifecycle table knows.
const (
	OpStart            Op = "start"
	OpKill             Op = "kill"
	OpKillAll          Op = "kill --all"
	OpDelete           Op = "delete"
	OpDeleteForce      Op = "delete --force"
	OpPause            Op = "pause"
	OpResume           Op = "resume"
	OpUpdate           Op = "update"
	OpExec             Op = "exec"
	OpExecIgnorePaused Op = "exec --ignore-paused"
	OpPs               Op = "ps"
	OpStats            Op = "events"
	OpCheckpoint       Op = "checkpoint"
)

// States lists every status a container can be in, in lifecycle order.
var States = []specs.ContainerState{
	specs.StateCreating, specs.StateCreated, specs.StateRunning, oci.StatusPaused, specs.StateStopped,
}

// Gone is the "next state" of an op after which the container no longer
// exists (delete).
const Gone specs.ContainerState = ""

// transition is one op's row of the lifecycle table. next maps each state
// the op is allowed in to the status right after it returns (a signal may
// of course end the init later). refusal gives the exact words for some
// refused states (runc's, which scripts and engines match on); other is
// the refusal for the rest, with %s standing for the status.
type transition struct {
	next    map[specs.ContainerState]specs.ContainerState
	refusal map[specs.ContainerState]string
	other   string
}

const (
	notRunningText  = "container not running"
	execStoppedText = "cannot exec in a stopped container"
)

// same maps each state to itself: ops that do not change the status.
func same(states ...specs.ContainerState) map[specs.ContainerState]specs.ContainerState {
	m := make(map[specs.ContainerState]specs.ContainerState, len(states))
	for _, s := range states {
		m[s] = s
	}
	return m
}

// to maps each state to next.
func to(next specs.ContainerState, states ...specs.ContainerState) map[specs.ContainerState]specs.ContainerState {
	m := make(map[specs.ContainerState]specs.ContainerState, len(states))
	for _, s := range states {
		m[s] = next
	}
	return m
}

const (
	creating = specs.StateCreating
	created  = specs.StateCreated
	running  = specs.StateRunning
	paused   = oci.StatusPaused
	stopped  = specs.StateStopped
)

// lifecycle is the whole table: which op runs in which state, what state
// follows, and how each refusal reads. Every status guard of libcontainer
// goes through it (require).
var lifecycle = map[Op]transition{
	OpStart: {
		next: to(running, created),
		refusal: map[specs.ContainerState]string{
			stopped: "cannot start a container that has stopped",
			running: "cannot start an already running container",
		},
		other: "cannot start a container that is %s",
	},
	// SIGKILL to a paused container also thaws it (see thawKilled): the
	// init then dies, so stopped follows, as any signal may make it.
	OpKill: {next: same(created, running, paused), other: notRunningText},
	// With --all, a stopped container is no error (runc's contract, which
	// containerd's shim relies on): processes of a container that shares
	// its pid namespace can outlive the init in its cgroup. Nor is a
	// stopped container whose cgroup is gone (see signalAll).
	OpKillAll:     {next: same(created, running, paused, stopped), other: notRunningText},
	OpDelete:      {next: to(Gone, creating, created, stopped), other: "cannot delete a container that is not stopped: %s"},
	OpDeleteForce: {next: to(Gone, States...)},
	// As runc, a created container can be paused too (its init is frozen
	// waiting for start); start refuses it until resume, which takes it
	// back to created, not running: the status is derived (see Status),
	// so the table's "running" after resume is that of a started one.
	OpPause:  {next: to(paused, created, running), other: notRunningText + " (cannot pause a container that is %s)"},
	OpResume: {next: to(running, paused), other: "container not paused (it is %s)"},
	OpUpdate: {next: same(created, running, paused), other: notRunningText},
	OpExec: {
		next: same(created, running),
		refusal: map[specs.ContainerState]string{
			paused:  "cannot exec in a paused container (use --ignore-paused to override)",
			stopped: execStoppedText,
		},
		other: notRunningText,
	},
	OpExecIgnorePaused: {
		next:    same(created, running, paused),
		refusal: map[specs.ContainerState]string{stopped: execStoppedText},
		other:   notRunningText,
	},
	// A stopped container has no processes: runc's ps prints an empty
	// list, not an error.
	OpPs:    {next: same(created, running, paused, stopped), other: notRunningText},
	OpStats: {next: same(created, running, paused), other: notRunningText},
	// criu dumps a running tree, or a paused one (containerd pauses a
	// task before it checkpoints it; criu collects it through the freezer).
	// The container is deleted after, unless --leave-running.
	OpCheckpoint: {next: same(running, paused), other: notRunningText},
}

// StateError is an op refused in the container's current status.
type StateError struct {
	ID     string
	Op     Op
	Status specs.ContainerState
	text   string
}

func (e *StateError) Error() string { return fmt.Sprintf("container %q: %s", e.ID, e.text) }

// Transition looks op up in the lifecycle table for a container id in
// status st: the status that follows, or the refusal.
func Transition(id string, op Op, st specs.ContainerState) (specs.ContainerState, error) {
	t, ok := lifecycle[op]
	if !ok {
		return st, fmt.Errorf("container %q: unknown operation %q", id, op)
	}
	if next, ok := t.next[st]; ok {
		return next, nil
	}
	text, ok := t.refusal[st]
	if !ok {
		text = t.other
		if strings.Contains(text, "%s") {
			text = fmt.Sprintf(text, st)
		}
	}
	return st, &StateError{ID: id, Op: op, Status: st, text: text}
}

// require checks that op may run on the container as it is now and
// returns that status.
func (c *Container) require(op Op) (specs.ContainerState, error) {
	st := c.Status()
	_, err := Transition(c.ID, op, st)
	return st, err
}

// Require checks that op may run on the container as it is now, for a
// command that must refuse before it does work of its own.
func (c *Container) Require(op Op) error {
	st, err := c.require(op)
	if err == nil {
		c.passed = &passedCheck{op: op, status: st}
	}
	return err
}

// passedCheck is the status a Require for op found.
type passedCheck struct {
	op     Op
	status specs.ContainerState
}

// requireOnce is require, answered by the check Require (or Create, for
// start) already made for op on this Container, if any. Only for an op
// that re-checks what may have changed since (exec: that the init still
// lives; start: its open of the exec fifo fails once the init is gone):
// the lock held since keeps the state from every other transition but the
// init's death.
func (c *Container) requireOnce(op Op) (specs.ContainerState, error) {
	if p := c.passed; p != nil && p.op == op {
		c.passed = nil
		return p.status, nil
	}
	return c.require(op)
}

// ExecOp is the exec op with or without --ignore-paused.
func ExecOp(ignorePaused bool) Op {
	if ignorePaused {
		return OpExecIgnorePaused
	}
	return OpExec
}

// notRunning is the refusal of an op whose init turned out to be gone
// after the status check passed (it died meanwhile).
func notRunning(id string, op Op) error {
	return &StateError{ID: id, Op: op, Status: stopped, text: notRunningText}
}
