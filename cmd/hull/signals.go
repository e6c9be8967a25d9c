package main

import (
	"os"
	"os/signal"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/nspawnconv/syscontainer"
	"github.com/hull-runtime/hull/oci"
)

// caughtSignals is a channel that receives every signal hull gets once
// wait returns. Installing the handlers costs 1.5-3 ms, so it overlaps
// creating the container; it must be done before the container starts, so
// that no signal meant for the container kills hull instead.
//
// Nothing stops the catching: hull exits soon after the container does,
// and signal.Stop disables each of the ~65 signals in turn, one handoff to
// the runtime's signal-mask thread each (1.4 ms per run). A signal that
// comes after the wait is left in the channel and dropped with hull.
type caughtSignals struct {
	ch    chan os.Signal
	ready chan struct{}
}

func catchSignals() *caughtSignals {
	s := &caughtSignals{ch: make(chan os.Signal, 32), ready: make(chan struct{})}
	go func() {
		signal.Notify(s.ch)
		close(s.ready)
	}()
	return s
}

func (s *caughtSignals) wait() { <-s.ready }

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
func waitForwarding(wait func() (int, error), f forwarding, sigs chan os.Signal, tty *ttyProxy) int {
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
		case s := <-sigs:
			switch sig := s.(unix.Signal); sig {
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
