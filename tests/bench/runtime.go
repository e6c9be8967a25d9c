package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// runtimeUnderTest is one OCI runtime binary with its own private --root
// state directory, so runtimes never see each other's containers.
type runtimeUnderTest struct {
	name string // column name: hull, runc, crun, nspawn
	path string // absolute binary path; empty when not available
	// machine: not an OCI runtime but a machine manager (systemd-nspawn),
	// run only by cases that say so, with its own command line; it has
	// no --root, state, exec or delete.
	machine bool
	missing string // why the runtime cannot be measured, shown as n/a
	version string
	root    string // --root state directory
	// launcher is the C program every command goes through (launch.c);
	// hide, when set, is the empty file it binds over the hybrid host's
	// cgroup2 controllers for this runtime alone (crun).
	launcher, hide string
	errLog         string // stderr of the last command, read back on failure
	// mapFaults: page faults to map the binary whole once its first
	// command read it from disk (pagecache.go); mapErr why not measured.
	mapFaults int64
	mapErr    error
	dropErr   error // why its files stayed in the page cache
	timeout   time.Duration
	seq       atomic.Int64 // container counter, for unique IDs and cgroups
}

// cmdResult is what one runtime invocation cost, as the launcher saw it.
type cmdResult struct {
	usage
	stdout []byte
}

// nextID returns a container ID and an absolute cgroupsPath unique within
// this bench run; the cgroup parent is removed at the end of the run.
func (r *runtimeUnderTest) nextID(cgroupParent string) (id, cgroupsPath string) {
	n := r.seq.Add(1)
	id = fmt.Sprintf("%s-%d", r.name, n)
	return "hb-" + id, cgroupParent + "/" + id
}

// execOpts say how one runtime command runs: pause is the regime's quiet
// time before the clock starts (slept by the launcher); stdout captures
// the command's output (state).
type execOpts struct {
	pause  time.Duration
	stdout bool
}

// exec runs the runtime with --root and args through the launcher, which
// times it from spawn to reap and reports its rusage. Standard streams are
// files, never pipes: a container started by create inherits them, and a
// pipe would make Wait block until the container exits.
func (r *runtimeUnderTest) exec(ctx context.Context, o execOpts, args ...string) (cmdResult, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout+o.pause)
	defer cancel()
	argv := append([]string{r.path, "--root", r.root}, args...)
	res, err := runLauncher(ctx, r.launcher, launchArgs("3", o.pause, r.hide, argv), r.errLog, o.stdout)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %s: %w", r.timeout, err)
		}
		return res, fmt.Errorf("%s %s: %w%s", r.name, strings.Join(args, " "), err, r.stderrTail())
	}
	return res, nil
}

// runLauncher runs the launcher with args (launchArgs: its result on fd 3),
// stderr to the file errLog, stdout captured when asked, and returns
// what it reported.
func runLauncher(ctx context.Context, launcher string, args []string, errLog string, stdout bool) (cmdResult, error) {
	cmd := exec.CommandContext(ctx, launcher, args...)
	cmd.WaitDelay = 2 * time.Second
	// Own process group, shared by the runtime the launcher spawns: a
	// terminal's Ctrl-C must stop the bench between commands (via ctx),
	// not kill a runtime halfway; a timeout kills the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return cmdResult{}, fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	defer devnull.Close()
	errf, err := os.Create(errLog)
	if err != nil {
		return cmdResult{}, fmt.Errorf("create stderr log %s: %w", errLog, err)
	}
	defer errf.Close()
	// The launcher marks its end close-on-exec: the runtime never holds it.
	resR, resW, err := os.Pipe()
	if err != nil {
		return cmdResult{}, fmt.Errorf("result pipe: %w", err)
	}
	defer resR.Close()
	var out bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, errf
	if stdout {
		cmd.Stdout = &out
	}
	cmd.ExtraFiles = []*os.File{resW}
	err = cmd.Start()
	resW.Close()
	if err == nil {
		err = cmd.Wait()
	}
	res := cmdResult{stdout: out.Bytes()}
	line, rerr := io.ReadAll(resR)
	if rerr == nil && len(line) > 0 {
		res.usage, rerr = parseUsage(line)
	} else if rerr == nil && err == nil {
		rerr = errors.New("launcher wrote no result")
	}
	if err == nil {
		err = rerr
	}
	return res, err
}

// stderrTail returns the end of the last command's stderr, for error messages.
func (r *runtimeUnderTest) stderrTail() string {
	b, err := os.ReadFile(r.errLog)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	b = bytes.TrimSpace(b)
	if len(b) > 400 {
		b = append([]byte("..."), b[len(b)-400:]...)
	}
	return ": " + strings.ReplaceAll(string(b), "\n", " | ")
}

// statePID asks the runtime for the container's init pid.
func (r *runtimeUnderTest) statePID(ctx context.Context, pause time.Duration, id string) (int, cmdResult, error) {
	res, err := r.exec(ctx, execOpts{stdout: true, pause: pause}, "state", id)
	if err != nil {
		return 0, res, err
	}
	var st struct {
		Pid    int    `json:"pid"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(res.stdout, &st); err != nil {
		return 0, res, fmt.Errorf("%s state %s: parse %q: %w", r.name, id, res.stdout, err)
	}
	if st.Pid <= 0 {
		return 0, res, fmt.Errorf("%s state %s: no pid (status %q)", r.name, id, st.Status)
	}
	return st.Pid, res, nil
}

// forceDelete removes a container whatever its state; used on failure and
// at cleanup, with its own context so it still runs after Ctrl-C.
func (r *runtimeUnderTest) forceDelete(id string) error {
	if r.machine {
		return nil // nothing to delete: its processes die with their cgroup
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, err := r.exec(ctx, execOpts{}, "delete", "--force", id)
	return err
}

// leftoverContainers lists the containers still in the runtime's state dir.
func (r *runtimeUnderTest) leftoverContainers() []string {
	if r.root == "" {
		return nil
	}
	ents, err := os.ReadDir(r.root)
	if err != nil {
		return nil
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() {
			ids = append(ids, e.Name())
		}
	}
	return ids
}

// probeVersion fills version with the first line of `--version`.
func (r *runtimeUnderTest) probeVersion() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.path, "--version")
	// A hung runtime's children may hold the output pipe open after the
	// kill; WaitDelay stops Wait from waiting for them.
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	switch {
	case err != nil && first == "":
		r.version = fmt.Sprintf("unknown (--version: %v)", err)
	case err != nil:
		r.version = first + fmt.Sprintf(" (--version: %v)", err)
	default:
		r.version = first
	}
}

// readFromDisk drops the runtime's files from the page cache, so that
// its first command reads them from disk (pagecache.go).
func (r *runtimeUnderTest) readFromDisk() error {
	for _, f := range runtimeFiles(r.path) {
		if err := dropFromPageCache(f); err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
	}
	return nil
}

// noteMapFaults measures, for the header, how the page cache holds the
// binary now.
func (r *runtimeUnderTest) noteMapFaults() {
	r.mapFaults, r.mapErr = mapFaults(r.path)
}

// resolveRuntime finds the binary for name; a missing one is not an error,
// the runtime's column just reads n/a.
func resolveRuntime(name, flagPath string) *runtimeUnderTest {
	r := &runtimeUnderTest{name: name, machine: name == "nspawn"}
	p := flagPath
	switch {
	case p != "":
	case r.machine:
		p = "systemd-nspawn"
	default:
		p = name
	}
	found, err := exec.LookPath(p)
	if err != nil {
		r.missing = fmt.Sprintf("%s not found: %v", p, err)
		return r
	}
	abs, err := filepath.Abs(found)
	if err != nil {
		r.missing = fmt.Sprintf("%s: %v", found, err)
		return r
	}
	r.path = abs
	return r
}
