// Command go-lib-run is one of the floor case's probes
// (tests/bench/floor.go): `run --bundle B ID` through hull's own
// container library, with no command-line library and none of the
// command layer's extras (signal forwarding, stdio and notify relays,
// the subreaper). Its peak RSS is a floor for a second, slim binary of
// the hot commands built on libcontainer: whether such a binary would
// bring hull's peak RSS to crun's.
//
// It keeps its state in a directory of its own, removed when it is done,
// and exits with the container's status, as `hull run` does.
package main

import (
	"fmt"
	"os"

	"github.com/hull-runtime/hull/libcontainer"
	"github.com/hull-runtime/hull/oci"
)

func main() {
	if len(os.Args) != 5 || os.Args[1] != "run" || os.Args[2] != "--bundle" {
		fmt.Fprintln(os.Stderr, "usage: go-lib-run run --bundle BUNDLE ID")
		os.Exit(2)
	}
	status, err := run(os.Args[3], os.Args[4])
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-lib-run:", err)
		os.Exit(125)
	}
	os.Exit(status)
}

// run creates, starts, waits for and deletes the container, as hull's
// run does.
func run(bundle, id string) (int, error) {
	b, err := oci.LoadBundle(bundle)
	if err != nil {
		return 0, err
	}
	root, err := os.MkdirTemp("/run", "hull-floor-probe-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(root)
	ctr, err := libcontainer.Create(libcontainer.CreateOpts{Root: root, ID: id, Bundle: b})
	if err != nil {
		return 0, err
	}
	defer ctr.Close()
	if err := ctr.Start(); err != nil {
		ctr.Delete(true)
		return 0, err
	}
	ctr.Unlock()
	status, waitErr := ctr.WaitExit()
	if err := ctr.Relock(); err != nil {
		return 0, err
	}
	if err := ctr.Delete(true); err != nil {
		return 0, err
	}
	return status, waitErr
}
