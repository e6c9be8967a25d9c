package main

import (
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// caughtSignals is a channel that receives every signal hull gets once
// wait returns. Installing the handlers costs 1.5-3 ms, so it overlaps
// creating the container; it must be done before the container starts, so
// that no signal meant for the container kills hull instead.
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

// waitForwarding waits for a process hull started (wait), forwarding every
// signal hull receives to it (send); window size changes go to the pty.
func waitForwarding(wait func() (int, error), send func(unix.Signal), sigs chan os.Signal, tty *ttyProxy) int {
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
			default:
				send(sig)
			}
		}
	}
}
