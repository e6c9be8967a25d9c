package main

import (
	"context"
	"fmt"
)

// sample is one measured iteration of one case for one runtime, as -json
// writes it: every value the case returned, by metric key.
type sample struct {
	Regime    string             `json:"regime"`
	Case      string             `json:"case"`
	Runtime   string             `json:"runtime"`
	Iteration int                `json:"iteration"`
	Warmup    bool               `json:"warmup,omitempty"`
	Values    map[string]float64 `json:"values"`
}

// runCase measures one case for every runtime, round-robin: iteration i
// runs each runtime once, starting at a different runtime each time, so
// drift in the machine (page cache, CPU frequency, other load) spreads over
// all columns instead of landing on one. A runtime that fails is dropped
// from the case and its cells read FAIL; the others carry on.
func (b *bench) runCase(ctx context.Context, c benchCase) {
	b.res.declare(c.labelled(b.cfg)...)
	var shared any
	if c.prepare != nil {
		st, skip, err := c.prepare(ctx, b)
		if skip != "" || err != nil {
			b.skipCase(c, skip, err)
			return
		}
		shared = st
	}
	states := map[string]any{}
	var active []*runtimeUnderTest
	for _, rt := range b.rts {
		if rt.missing != "" {
			b.res.markAll(c.metrics, rt.name, "", rt.missing)
			continue
		}
		if rt.machine && !c.machines {
			continue // not an OCI runtime: no column outside the boot case
		}
		states[rt.name] = shared
		if c.setup != nil {
			st, err := c.setup(ctx, b, rt)
			if err != nil {
				b.res.markAll(c.metrics, rt.name, "setup: "+err.Error(), "")
				continue
			}
			states[rt.name] = st
		}
		active = append(active, rt)
	}
	defer b.teardownAll(c, active, states)

	warm, n := c.warmup(b.cfg), c.iters(b.cfg)
	failed := map[string]bool{}
	fmt.Fprintf(b.log, "%-5s %-7s %s: %d warm-up + %d iterations\n", b.regime.name, c.name, c.desc, warm, n)
	for i := 0; i < warm+n; i++ {
		for k := range active {
			if ctx.Err() != nil {
				return
			}
			rt := active[(i+k)%len(active)]
			if failed[rt.name] {
				continue
			}
			vals, err := c.run(ctx, b, rt, states[rt.name])
			reapChildren()
			if err == nil {
				b.samples = append(b.samples, sample{Regime: b.regime.name, Case: c.name, Runtime: rt.name,
					Iteration: i + 1, Warmup: i < warm, Values: vals})
			}
			if err != nil {
				if ctx.Err() != nil {
					return // interrupted: the error is ours, not the runtime's
				}
				failed[rt.name] = true
				b.res.markAll(c.metrics, rt.name, fmt.Sprintf("iteration %d: %v", i+1, err), "")
				fmt.Fprintf(b.log, "  %s FAIL: %v\n", rt.name, err)
				continue
			}
			if i < warm {
				continue
			}
			for key, v := range vals {
				b.res.add(key, rt.name, v)
			}
		}
	}
}

// labelled is the case's metrics with the row count in the labels.
func (c benchCase) labelled(cfg config) []metric {
	out := append([]metric(nil), c.metrics...)
	for i := range out {
		if out[i].Key == "run100.wall" {
			out[i].Label = fmt.Sprintf("%d runs in a row (wall, summed)", cfg.row)
		}
	}
	return out
}

// skipCase marks every cell of a case that cannot run: n/a with the reason
// when the machine lacks something, FAIL when preparing it broke.
func (b *bench) skipCase(c benchCase, skip string, err error) {
	for _, rt := range b.rts {
		if rt.machine && !c.machines {
			continue
		}
		if err != nil {
			b.res.markAll(c.metrics, rt.name, "prepare: "+err.Error(), "")
		} else {
			b.res.markAll(c.metrics, rt.name, "", skip)
		}
	}
	if err != nil {
		skip = err.Error()
	}
	fmt.Fprintf(b.log, "%-7s skipped: %s\n", c.name, skip)
}

func (b *bench) teardownAll(c benchCase, active []*runtimeUnderTest, states map[string]any) {
	if c.teardown == nil {
		return
	}
	for _, rt := range active {
		if err := c.teardown(b, rt, states[rt.name]); err != nil {
			fmt.Fprintf(b.log, "  %s teardown: %v\n", rt.name, err)
		}
	}
	reapChildren()
}
