package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The floor case: what a command that does no work costs each runtime
// (`--version`: the runtime's start, its libraries and its exit), and
// beside it what any Go program built as hull is pays for the same:
// the probes under tests/bench/floor, which the Makefile builds with
// hull's C library, tags and link flags and passes as -floor. They bound
// from below the peak RSS a hull command can reach while it is a Go
// program whose command line is parsed by urfave/cli, and (go-lib-run,
// which runs the container) while its `run` goes through hull's own
// container library.

// floorProbe is one program of -floor, run as `PATH run --bundle B ID`
// (the command line of a `run`, with /bin/true in the bundle; a probe
// that parses none ignores it).
type floorProbe struct {
	name, path string
}

// floorResult is a probe's medians over the case's iterations.
type floorResult struct {
	Probe  string  `json:"probe"`
	Path   string  `json:"path"`
	RSSMiB float64 `json:"rss_mib"`
	CPUms  float64 `json:"cpu_ms"`
	Iters  int     `json:"iterations"`
	Error  string  `json:"error,omitempty"`
}

func floorCase() benchCase {
	return benchCase{
		name: "floor",
		desc: "RUNTIME --version (its start and exit alone); the -floor Go probes, built as hull is, beside it",
		metrics: []metric{
			{Key: "floor.rss", Label: "--version peak RSS", Unit: "MiB"},
			{Key: "floor.cpu", Label: "--version CPU (user+sys)", Unit: "ms"},
			{Key: "floor.wall", Label: "--version", Unit: "ms"},
		},
		warmup:  func(c config) int { return c.warmup },
		iters:   func(c config) int { return c.n },
		prepare: measureProbes,
		after:   (*bench).writeFloor,
		run:     runVersion,
		once:    true,
	}
}

func runVersion(ctx context.Context, b *bench, rt *runtimeUnderTest, _ any) (map[string]float64, error) {
	res, err := b.timed(ctx, rt, "--version")
	if err != nil {
		return nil, err
	}
	return map[string]float64{
		"floor.rss":  float64(res.maxRSS) / 1024,
		"floor.cpu":  ms(res.cpu),
		"floor.wall": ms(res.wall),
	}, nil
}

// measureProbes runs each -floor probe (its own warm-ups, then the
// case's iterations), before the runtimes' `--version` rows, and keeps
// its medians for the report. Each run has the runtimes' time limit.
func measureProbes(ctx context.Context, b *bench) (any, string, error) {
	for _, p := range b.cfg.floor {
		r := floorResult{Probe: p.name, Path: p.path}
		if err := dropProbeFromPageCache(p.path); err != nil {
			r.Error = err.Error()
			b.floor = append(b.floor, r)
			continue
		}
		var rss, cpu []float64
		errLog := filepath.Join(b.tmp, "floor-"+p.name+".stderr")
		for i := 0; i < b.cfg.warmup+b.cfg.n && ctx.Err() == nil; i++ {
			id := fmt.Sprintf("hb-floor-%s-%d", p.name, i)
			argv := []string{p.path, "run", "--bundle", b.bundle.dir, id}
			if err := b.bundle.write([]string{"/bin/true"}, b.cgParent+"/"+id); err != nil {
				r.Error = err.Error()
				break
			}
			runCtx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
			res, err := runLauncher(runCtx, b.launcher, launchArgs("3", 0, "", argv), errLog, false)
			cancel()
			if left, rmErr := b.removeProbeState(); len(left) > 0 {
				err = errors.Join(err, fmt.Errorf("left state directories %s", strings.Join(left, " ")), rmErr)
			}
			if err != nil {
				r.Error = fmt.Sprintf("%s: %v", strings.Join(argv, " "), err)
				break
			}
			if i >= b.cfg.warmup {
				rss = append(rss, float64(res.maxRSS)/1024)
				cpu = append(cpu, ms(res.cpu))
			}
		}
		switch {
		case r.Error != "":
		case len(rss) == 0: // interrupted before a measured run: no NaN in the JSON
			r.Error = "no measured run (interrupted)"
		default:
			r.RSSMiB, r.CPUms, r.Iters = quantile(rss, 0.5), quantile(cpu, 0.5), len(rss)
		}
		b.floor = append(b.floor, r)
	}
	return nil, "", nil
}

// probeStateDirs matches the directory go-lib-run keeps its state in,
// beside the bundle (its stateDirPattern), and removes when it is done.
func (b *bench) probeStateDirs() []string {
	dirs, _ := filepath.Glob(filepath.Join(filepath.Dir(b.bundle.dir), "go-lib-run-*"))
	return dirs
}

// removeProbeState deletes what a probe left (killed at the time limit,
// or its delete failed): its container, with hull (the state is
// libcontainer's, as hull's), then the state directory, which it keeps
// where that delete failed, so that no process or cgroup outlives the
// record of it (the end of the run's cgroup cleanup still kills those).
// It names each directory it found.
func (b *bench) removeProbeState() ([]string, error) {
	left := b.probeStateDirs()
	hull := b.hullPath()
	var errs []error
	for _, dir := range left {
		root := filepath.Join(dir, "state")
		ents, _ := os.ReadDir(root)
		deleted := true
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			if hull == "" {
				errs = append(errs, fmt.Errorf("no hull to delete %s in %s", e.Name(), root))
				deleted = false
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), b.cfg.timeout)
			out, err := exec.CommandContext(ctx, hull, "--root", root, "delete", "--force", e.Name()).CombinedOutput()
			cancel()
			if err != nil {
				errs = append(errs, fmt.Errorf("hull --root %s delete --force %s: %v: %s", root, e.Name(), err, bytes.TrimSpace(out)))
				deleted = false
			}
		}
		if deleted {
			os.RemoveAll(dir)
		}
	}
	return left, errors.Join(errs...)
}

// hullPath is the hull binary under test, "" when it is missing (then the
// end of the run's cgroup cleanup is what ends a probe's leftovers).
func (b *bench) hullPath() string {
	for _, rt := range b.rts {
		if rt.name == "hull" && rt.missing == "" {
			return rt.path
		}
	}
	return ""
}

// dropProbeFromPageCache drops a probe and the hull-stage beside it (which
// go-lib-run starts, as hull does its own, and refuses to run without)
// from the page cache, as the runtimes' binaries and helpers are.
func dropProbeFromPageCache(path string) error {
	if err := dropFromPageCache(path); err != nil {
		return err
	}
	stage := filepath.Join(filepath.Dir(path), "hull-stage")
	if _, err := os.Stat(stage); err != nil {
		return nil // not the Makefile's layout: a probe that needs it says so itself
	}
	return dropFromPageCache(stage)
}

// writeFloor prints the probes' medians under the floor case's table.
func (b *bench) writeFloor(w io.Writer) {
	if len(b.floor) == 0 {
		return
	}
	fmt.Fprintln(w, "\nGo probes (-floor; make bench builds them as hull is: its C library, tags and static link), run as `PROBE run --bundle B ID`:")
	for _, r := range b.floor {
		if r.Error != "" {
			fmt.Fprintf(w, "  %s: FAIL %s\n", r.Probe, r.Error)
			continue
		}
		fmt.Fprintf(w, "  %s: peak RSS %.2f MiB, CPU %.2f ms (median of %d)\n", r.Probe, r.RSSMiB, r.CPUms, r.Iters)
	}
}

// parseFloor reads -floor: NAME=PATH, comma separated.
func parseFloor(list []string) ([]floorProbe, error) {
	var probes []floorProbe
	for _, pair := range list {
		name, path, ok := strings.Cut(pair, "=")
		if !ok || name == "" || path == "" {
			return nil, fmt.Errorf("-floor: %q is not NAME=PATH", pair)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("-floor: %s: %w", pair, err)
		}
		probes = append(probes, floorProbe{name: name, path: abs})
	}
	return probes, nil
}
