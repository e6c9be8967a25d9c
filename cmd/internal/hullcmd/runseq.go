package hullcmd

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/faults"
	"github.com/hull-runtime/hull/nspawnconv/syscontainer"
	"github.com/hull-runtime/hull/oci"
)

// runPlan is what differs between `hull run` and `hull nspawn` around the
// sequence they share (runContainer).
type runPlan struct {
	id     string
	bundle *oci.Bundle
	// tty: hull takes the container's pty and proxies it to its stdio.
	tty bool
	// consoleMode is nspawn's --console mode for the pty ("": both ways).
	consoleMode string
	// escape: nspawn's Ctrl-] three times kills the machine.
	escape bool
	// relay: a converted machine's sd_notify goes on to hull's own.
	relay bool
	// detach returns once the container started; keep leaves its state.
	detach, keep bool
	// subreaper: the container's orphans come to hull, which reaps them.
	subreaper bool
}

// runContainer is create, attach, start, wait, delete: the one sequence of
// `hull run` and `hull nspawn`. It returns the container's exit status, a
// booted machine's the way nspawn reports it; 0 when detached.
func runContainer(c *cli.Context, p runPlan) (int, error) {
	var tty *ttyProxy
	if p.tty {
		var err error
		if tty, err = newTTYProxy(); err != nil {
			return 0, err
		}
		defer tty.Close()
	}
	sigs, err := catchSignals(tty != nil)
	if err != nil {
		return 0, err
	}
	if p.relay {
		relay, err := startNotifyRelay(p.bundle)
		if err != nil {
			return 0, err
		}
		defer relay.Close()
	}
	var consoleSock *os.File
	if tty != nil {
		consoleSock = tty.remote
	}
	var stdio *stdioRelay
	if !p.tty && !p.detach && needsStdioRelay(p.bundle.Spec, p.bundle.Spec.Process) {
		if stdio, err = relayStdio(); err != nil {
			return 0, err
		}
		defer stdio.finish()
	}
	ctr, err := createFromBundle(c, p.id, p.bundle, consoleSock)
	if err != nil {
		return 0, err
	}
	defer ctr.Close()
	faults.Hit("run/created")
	if tty != nil {
		if p.escape {
			tty.escape = func() {
				fmt.Fprintf(os.Stderr, "\r\nhull: escape: killing machine %s\r\n", p.id)
				ctr.Signal(unix.SIGKILL, true)
			}
		}
		if err := attachConsole(tty, p.consoleMode); err != nil {
			ctr.Delete(true)
			return 0, err
		}
	}
	subreaper := p.subreaper
	if subreaper {
		if err := becomeSubreaper(); err != nil {
			logWarnings(c, []string{err.Error()})
			subreaper = false
		}
	}
	if err := ctr.Start(); err != nil {
		ctr.Delete(true)
		return 0, err
	}
	faults.Hit("run/started")
	if p.detach {
		return 0, nil
	}
	var reaper *orphanReaper
	if subreaper {
		// Once start's hooks are done: they are hull's own children.
		var err error
		if reaper, err = startReaper(ctr.Init.Pid); err != nil {
			logWarnings(c, []string{err.Error()})
		}
	}
	// Unlocked while it runs, so that state, exec, kill and delete work meanwhile.
	ctr.Unlock()
	status := syscontainer.SystemExitStatus(p.bundle.Spec, waitForwarding(ctr.WaitExit, forwarding{send: func(sig unix.Signal) { ctr.Signal(sig, false) }, orderly: orderlySignal(p.bundle.Spec)}, sigs, tty))
	faults.Hit("run/exited")
	if reaper != nil {
		reaper.stop() // before delete's poststop hooks, hull's own children
	}
	if tty != nil {
		tty.drain()
	}
	if p.keep {
		stdio.finish()
		return status, nil
	}
	// Deleted first: processes that outlived the init, killed with the
	// container, no longer hold the relay's pipes.
	err = deleteAfterRun(ctr)
	stdio.finish()
	return status, err
}
