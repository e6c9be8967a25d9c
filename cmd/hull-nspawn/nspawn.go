package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/cmd/internal/hullcmd"
	nspawnhooks "github.com/hull-runtime/hull/hooks/nspawn"
	"github.com/hull-runtime/hull/oci"
)

// nspawnBundles holds the throw-away bundles of `hull nspawn`.
const nspawnBundles = "/run/hull-nspawn"

// nspawnRun converts into a temporary bundle and runs it as the container
// named after the machine, so `hull state/exec/kill NAME` work meanwhile.
func nspawnRun(c *cli.Context) error {
	a, err := splitHullArgs(c.Args().Slice())
	if err != nil {
		return err
	}
	if hasFlag(a.nspawn, "-h", "--help") {
		printNspawnHelp(os.Stdout, "nspawn")
		return nil
	}
	if a.bundle != "" {
		return fmt.Errorf("nspawn: --bundle is for `hull convert`")
	}
	bundles, err := nspawnBundleDir()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(bundles, 0o711); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(bundles, "machine-")
	if err != nil {
		return err
	}
	defer removeNspawnBundle(dir)
	// A user namespace's root resolves bind sources (run-host) in here.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	a.bundle = dir
	unbind, err := reachableRoot(&a)
	if err != nil {
		return err
	}
	defer unbind()
	if a.cgroupsPath == "" && hasFlag(a.nspawn, "--keep-unit") {
		if a.cgroupsPath, err = keepUnitCgroups(); err != nil {
			return err
		}
	}
	cv, err := convertMachine(a)
	if err != nil {
		return err
	}
	b, err := oci.LoadBundle(dir)
	if err != nil {
		return err
	}
	status, err := hullcmd.RunMachine(c, cv.MachineName, b)
	if err != nil {
		return err
	}
	return hullcmd.ExitStatus(status)
}

// removeNspawnBundle deletes the temporary bundle unless a poststop hook
// failed to unmount something in it (deleting would then reach into the
// mounted file system, e.g. the image under an overlay).
func removeNspawnBundle(dir string) {
	if err := nspawnhooks.RemoveTree(dir); err != nil {
		fmt.Fprintf(os.Stderr, "hull: warning: bundle %s left behind: %v\n", dir, err)
	}
}
