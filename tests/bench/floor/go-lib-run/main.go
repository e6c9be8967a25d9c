// Command go-lib-run is one of the floor case's probes
// (tests/bench/floor.go): `run --bundle B ID` through hull's own
// container library, with no command-line library and none of the
// command layer's extras (signal forwarding, the stdio and notify relays,
// the subreaper). Its peak RSS is a floor for a second, slim binary of
// the hot commands built on libcontainer: whether such a binary would
// bring hull's peak RSS to crun's.
//
// As hull, it keeps its threads small (internal/threadmem), starts its
// containers' C stage from the hull-stage beside it (it refuses to run
// without one, rather than measure the Go init instead) and exits with the
// container's status. It keeps its state in a directory of its own beside
// the bundle (stateDirPattern), which it removes once the container is
// deleted; if the delete failed, the directory stays, holding the only
// record of the container, for the bench to delete it with hull.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	_ "github.com/hull-runtime/hull/internal/threadmem"
	"github.com/hull-runtime/hull/libcontainer"
	"github.com/hull-runtime/hull/libcontainer/nsenter"
	"github.com/hull-runtime/hull/oci"
)

// stateDirPattern names the probe's directory beside the bundle; the
// bench and its test look for leftovers with it. The container state
// is in its "state" subdirectory: hull's seccomp cache goes beside a
// state root, and so stays inside the probe's directory too.
const stateDirPattern = "go-lib-run-*"

// As hull's: the container init applies per-thread attributes and execs
// from the main thread, and libcontainer/exeseal relies on no other
// goroutine ever running there.
func init() { runtime.LockOSThread() }

func main() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libcontainer.Init() // the Go init, when the C finisher cannot be used; never returns
	}
	if len(os.Args) != 5 || os.Args[1] != "run" || os.Args[2] != "--bundle" {
		fmt.Fprintln(os.Stderr, "usage: go-lib-run run --bundle BUNDLE ID")
		os.Exit(2)
	}
	status, err := runIn(os.Args[3], os.Args[4])
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-lib-run:", err)
		os.Exit(125)
	}
	os.Exit(status)
}

// runIn runs the container with its state in a directory of its own,
// which it removes unless a container record is left in it.
func runIn(bundle, id string) (int, error) {
	if err := requireStage(); err != nil {
		return 0, err
	}
	b, err := oci.LoadBundle(bundle)
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp(filepath.Dir(b.Dir), stateDirPattern)
	if err != nil {
		return 0, err
	}
	root := filepath.Join(dir, "state")
	status, err := run(b, root, id)
	if err == nil {
		// An rmdir: anything Delete left in the state root is an error.
		err = os.Remove(root)
	}
	if ents, _ := os.ReadDir(root); len(ents) == 0 {
		os.RemoveAll(dir)
	}
	return status, err
}

// requireStage refuses to run without the hull-stage beside the probe,
// which hull has beside it: without it the container would start through
// the Go init, another path than hull's.
func requireStage() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	stage := filepath.Join(filepath.Dir(exe), nsenter.StageName)
	if _, err := os.Stat(stage); err != nil {
		return fmt.Errorf("no %s beside the probe (the Makefile copies it): %w", nsenter.StageName, err)
	}
	return nil
}

// run creates, starts, waits for and deletes the container, as hull's
// run does.
func run(b *oci.Bundle, root, id string) (int, error) {
	ctr, err := libcontainer.Create(libcontainer.CreateOpts{Root: root, ID: id, Bundle: b})
	if err != nil {
		return 0, err
	}
	defer ctr.Close()
	for _, w := range ctr.Warnings {
		fmt.Fprintln(os.Stderr, "go-lib-run: warning:", w)
	}
	if err := ctr.Start(); err != nil {
		return 0, errors.Join(err, ctr.Delete(true))
	}
	// Unlocked while it runs and locked again to delete, as hull's run
	// does (nobody else can reach this root): the same system calls.
	ctr.Unlock()
	status, waitErr := ctr.WaitExit()
	if err := ctr.Relock(); err != nil {
		return 0, errors.Join(waitErr, err)
	}
	if err := ctr.Delete(true); err != nil {
		return 0, errors.Join(waitErr, err)
	}
	return status, waitErr
}
