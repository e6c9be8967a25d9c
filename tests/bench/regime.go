package main

import (
	"fmt"
	"strings"
	"time"
)

// regime is how runtime commands follow each other. The same cases run in
// each: what differs is only the quiet time the launcher sleeps before it
// starts a measured command, so caches, CPU frequency and the kernel's
// deferred work (RCU grace periods after a cgroup migration) are in the
// state a real caller would find them.
type regime struct {
	name  string // b2b, warm, cold
	title string
	pause time.Duration
}

// regimeNames are the known regimes, in run and print order.
var regimeNames = []string{"b2b", "warm", "cold"}

func (c config) regimeList() []regime {
	var out []regime
	for _, name := range regimeNames {
		if !c.wantRegime(name) {
			continue
		}
		switch name {
		case "b2b":
			out = append(out, regime{name, "back to back (no pause between commands)", 0})
		case "warm":
			out = append(out, regime{name, fmt.Sprintf("warm (%s pause before each measured command)", c.warmPause), c.warmPause})
		case "cold":
			out = append(out, regime{name, fmt.Sprintf("cold (%s of quiet before each measured command)", c.coldPause), c.coldPause})
		}
	}
	return out
}

func (c config) wantRegime(name string) bool {
	for _, r := range c.regimes {
		if r == name {
			return true
		}
	}
	return false
}

func checkRegimes(names []string) error {
	if len(names) == 0 {
		return fmt.Errorf("-regimes is empty (known: %s)", strings.Join(regimeNames, ","))
	}
	for _, n := range names {
		known := false
		for _, k := range regimeNames {
			known = known || n == k
		}
		if !known {
			return fmt.Errorf("-regimes: unknown regime %q (known: %s)", n, strings.Join(regimeNames, ","))
		}
	}
	return nil
}
