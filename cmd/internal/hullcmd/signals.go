package hullcmd

import (
	"os"
	"os/signal"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/sigcatch"
	"github.com/hull-runtime/hull/nspawnconv/syscontainer"
	"github.com/hull-runtime/hull/oci"
)

// catchSignals makes every signal hull forwards arrive on the returned
// channel (libcontainer/sigcatch: one sigaction each, where os/signal's
// Notify of all signals cost two handoffs to its signal-mask thread per
// signal). It must be called before the container's process starts, so
// that no signal meant for it kills hull instead. Nothing stops the
// catching: hull exits soon after the process does. With tty, hull
// copies the pty to its stdout, and a reader gone away must end that copy
// (EPIPE), not hull: os/signal then catches SIGPIPE, as the Go runtime
// kills a program whose write to stdout fails with EPIPE otherwise.
func catchSignals(tty bool) (<-chan unix.Signal, error) {
	ch := make(chan unix.Signal, 32)
	if err := sigcatch.Catch(ch, sigcatch.Forwardable()...); err != nil {
		return nil, err
	}
	if tty {
		signal.Notify(make(chan os.Signal, 1), unix.SIGPIPE)
	}
	return ch, nil
}

// forwarding says how waitForwarding relays signals: send delivers one to
// the container; orderly, when not 0, replaces SIGTERM and SIGINT, as
// nspawn turns them into a booted machine's kill signal (SIGRTMIN+3 powers
// systemd off; SIGTERM would make it re-execute), so `systemctl stop` of a
// unit running hull shuts the machine down cleanly.
type forwarding struct {
	send    func(unix.Signal)
	orderly unix.Signal
}

// orderlySignal is the signal SIGTERM and SIGINT become for a container:
// its kill signal when it has one (a booted machine, KillSignal=), else 0.
func orderlySignal(spec *specs.Spec) unix.Signal {
	name := syscontainer.DefaultKillSignal(spec)
	if name == "" {
		return 0
	}
	sig, err := oci.ParseSignal(name)
	if err != nil {
		return 0
	}
	return sig
}

// waitForwarding waits for a process hull started (wait), forwarding every
// signal hull receives to it (f); window size changes go to the pty.
func waitForwarding(wait func() (int, error), f forwarding, sigs <-chan unix.Signal, tty *ttyProxy) int {
	sigcatch.Listen() // what came since catchSignals first
	done := make(chan int, 1)
	go func() {
		status, err := wait()
		if err != nil {
			status = execFailed
		}
		done <- status
	}()
	for {
		select {
		case status := <-done:
			return status
		case sig := <-sigs:
			switch sig {
			case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE:
			case unix.SIGWINCH:
				if tty != nil {
					tty.resize()
				}
			case unix.SIGTERM, unix.SIGINT:
				if f.orderly != 0 {
					sig = f.orderly
				}
				f.send(sig)
			default:
				f.send(sig)
			}
		}
	}
}
