package main

import (
	"os"
	"os/signal"
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
