package main

import (
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"golang.org/x/sys/unix"

	nspawnhooks "github.com/hull-runtime/hull/hooks/nspawn"
	"github.com/hull-runtime/hull/libcontainer/console"
	"github.com/hull-runtime/hull/nspawnconv/syscontainer"
	"github.com/hull-runtime/hull/oci"
)

// nspawnBundles holds the throw-away bundles of `hull nspawn`.
const nspawnBundles = "/run/hull-nspawn"

var nspawnCommand = &cli.Command{
	Name:      "nspawn",
	Usage:     "run a machine the way systemd-nspawn does (same flags and .nspawn files)",
	ArgsUsage: "[systemd-nspawn flags] [--nspawn-file FILE] [--cgroups-path PATH] [-- command or init args]",
	// nspawn's flags (-b, -D, -M, …) are not hull's: parse them ourselves.
	SkipFlagParsing: true,
	Action:          nspawnRun,
}

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
	status, err := runMachine(c, cv.MachineName, b)
	if err != nil {
		return err
	}
	if status != 0 {
		return exitCode(status)
	}
	return nil
}

// removeNspawnBundle deletes the temporary bundle unless a poststop hook
// failed to unmount something in it (deleting would then reach into the
// mounted file system, e.g. the image under an overlay).
func removeNspawnBundle(dir string) {
	if err := nspawnhooks.RemoveTree(dir); err != nil {
		fmt.Fprintf(os.Stderr, "hull: warning: bundle %s left behind: %v\n", dir, err)
	}
}

// runMachine is `hull run` with nspawn's console modes and escape.
func runMachine(c *cli.Context, id string, b *oci.Bundle) (int, error) {
	return runContainer(c, runPlan{
		id: id, bundle: b,
		tty:         b.Spec.Process.Terminal,
		consoleMode: b.Spec.Annotations[syscontainer.AnnotationConsole],
		escape:      true,
		relay:       true,
	})
}

// notifyRelay is a *syscontainer.NotifyRelay that may be absent.
type notifyRelay struct{ r *syscontainer.NotifyRelay }

func (n notifyRelay) Close() {
	if n.r != nil {
		n.r.Close()
	}
}

// startNotifyRelay listens on a converted machine's /run/host/notify from
// the host side and passes READY=1 on to hull's own $NOTIFY_SOCKET.
func startNotifyRelay(b *oci.Bundle) (notifyRelay, error) {
	p := syscontainer.NotifySocketPath(b.Spec, b.Dir)
	if p == "" {
		return notifyRelay{}, nil
	}
	r, err := syscontainer.NewNotifyRelay(p, os.Getenv("NOTIFY_SOCKET"))
	return notifyRelay{r}, err
}

// killSignal is `hull kill`'s signal: the one given, else a booted
// machine's own kill signal (nspawn's KillSignal=, SIGRTMIN+3 for
// systemd), else SIGTERM.
func killSignal(name string, annotations map[string]string) (unix.Signal, error) {
	if name == "" {
		name = annotations[syscontainer.AnnotationKillSignal]
	}
	if name == "" {
		return unix.SIGTERM, nil
	}
	return oci.ParseSignal(name)
}

// attachConsole connects the machine's pty as nspawn's --console mode says:
// interactive = both ways (ttyProxy.attach), read-only = output only,
// passive = held open but not connected.
func attachConsole(t *ttyProxy, mode string) error {
	if mode != "read-only" && mode != "passive" {
		return t.attach()
	}
	t.remote.Close()
	master, err := console.RecvFd(t.local)
	if err != nil {
		return err
	}
	t.master = master
	if mode == "passive" {
		return nil
	}
	t.holdPeer()
	t.copied.Add(1)
	go func() {
		defer t.copied.Done()
		io.Copy(os.Stdout, master) //nolint:errcheck // EIO when the last slave closes
	}()
	return nil
}
