package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// bench is everything a case needs to run one measurement.
type bench struct {
	cfg      config
	rts      []*runtimeUnderTest
	bundle   *bundle
	tmp      string        // the run's temp dir, removed at the end
	cgParent string        // absolute cgroup parent of every container, e.g. /hull-bench-123
	res      *results      // of the regime being measured
	regime   regime        // the one being measured
	samples  []sample      // every measured iteration, for -json
	log      io.Writer     // progress lines
	launcher string        // the compiled launcher (launch.c)
	tables   []table       // one per regime, then the floor and boot cases'
	floor    []floorResult // the -floor probes, measured by the floor case
	// loadStart is /proc/loadavg when the run began, for the header.
	loadStart string
	// For the header and -json: the host's cgroup layout as found, and
	// what was done about crun's hybrid-mode refusal.
	cgroupMode, crunFix string
}

// timed runs one measured runtime command: after the regime's pause.
func (b *bench) timed(ctx context.Context, rt *runtimeUnderTest, args ...string) (cmdResult, error) {
	return rt.exec(ctx, execOpts{pause: b.regime.pause}, args...)
}

// benchCase is one scenario. run does one iteration for one runtime and
// returns a value per metric key; setup/teardown, when set, bracket all
// iterations of a runtime (e.g. a long-running container to exec into).
type benchCase struct {
	name    string
	desc    string
	metrics []metric
	warmup  func(config) int
	iters   func(config) int
	// prepare, when set, runs once before any runtime: work the runtimes
	// share (an image, a bundle). A non-empty skip reason marks every
	// cell n/a; st is what run gets for runtimes without a setup.
	prepare  func(ctx context.Context, b *bench) (st any, skip string, err error)
	setup    func(ctx context.Context, b *bench, rt *runtimeUnderTest) (any, error)
	run      func(ctx context.Context, b *bench, rt *runtimeUnderTest, st any) (map[string]float64, error)
	teardown func(b *bench, rt *runtimeUnderTest, st any) error
	// after, for a case measured once, prints what it measured beside its
	// table (the floor case's probes).
	after func(b *bench, w io.Writer)
	// machines: the case also runs non-OCI machine managers (nspawn).
	machines bool
	// once: the case is not measured per regime (the boot case: seconds
	// per sample, where a pause of 20 or 100 ms changes nothing; the
	// floor case: a command's start alone).
	once bool
}

// allCases is the table of scenarios, in print order.
func allCases() []benchCase {
	perIter := func(c config) int { return c.n }
	warm := func(c config) int { return c.warmup }
	return []benchCase{
		{
			name: "run", desc: "run --bundle B ID of /bin/true; the runtime removes it on exit",
			metrics: []metric{
				{Key: "run.wall", Label: "run /bin/true", Unit: "ms"},
				{Key: "run.cpu", Label: "CPU per run (user+sys of the runtime and its children)", Unit: "ms"},
				{Key: "run.rss", Label: "peak RSS of the runtime's processes", Unit: "MiB"},
				{Key: "run.faults", Label: "page faults per run", Unit: "count"},
				{Key: "run.csw", Label: "context switches per run", Unit: "count"},
			},
			warmup: warm, iters: perIter, run: runTrue,
		},
		{
			name: "cycle", desc: "create, state, start, wait for the init to exit (pidfd), delete",
			metrics: []metric{
				{Key: "cycle.create", Label: "create", Unit: "ms"},
				{Key: "cycle.start", Label: "start", Unit: "ms"},
				{Key: "cycle.exit", Label: "start return -> init exit", Unit: "ms"},
				{Key: "cycle.delete", Label: "delete", Unit: "ms"},
				{Key: "cycle.total", Label: "create+start+exit+delete", Unit: "ms"},
				{Key: "cycle.state", Label: "state (created)", Unit: "ms"},
			},
			warmup: warm, iters: perIter, run: runCycle,
		},
		{
			name: "exec", desc: "exec /bin/true into a running /bin/sleep container",
			metrics: []metric{
				{Key: "exec.wall", Label: "exec /bin/true", Unit: "ms"},
				{Key: "exec.cpu", Label: "exec CPU (user+sys)", Unit: "ms"},
				{Key: "exec.rss", Label: "exec peak RSS", Unit: "MiB"},
			},
			warmup: warm, iters: perIter,
			setup: setupSleeper, run: runExec, teardown: teardownSleeper,
		},
		{
			name: "run100", desc: "-row runs of /bin/true in a row (each after the regime's pause), summed wall time",
			metrics: []metric{
				{Key: "run100.wall", Label: "runs in a row", Unit: "s"},
			},
			warmup: func(config) int { return 0 },
			iters:  func(c config) int { return c.n100 },
			run:    runHundred,
		},
		{
			name: "runlim", desc: "run of /bin/true with an engine's default seccomp profile (-seccomp-profile) and podman-like limits (memory 512 MiB, swap 1 GiB, pids 2048, cpu shares 1024)",
			metrics: []metric{
				{Key: "runlim.wall", Label: "run /bin/true, podman-like seccomp + limits", Unit: "ms"},
				{Key: "runlim.cpu", Label: "CPU per run, seccomp + limits", Unit: "ms"},
			},
			warmup: warm, iters: perIter, setup: setupLimited, run: runLimited,
		},
		floorCase(),
		bootCase(),
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// runOne runs /bin/true with `run` once; the caller owns cleanup on error.
func runOne(ctx context.Context, b *bench, rt *runtimeUnderTest) (cmdResult, string, error) {
	id, cg := rt.nextID(b.cgParent)
	if err := b.bundle.write([]string{"/bin/true"}, cg); err != nil {
		return cmdResult{}, id, err
	}
	res, err := b.timed(ctx, rt, "run", "--bundle", b.bundle.dir, id)
	if err != nil {
		b.salvage(rt, id, cg)
	}
	return res, id, err
}

func runTrue(ctx context.Context, b *bench, rt *runtimeUnderTest, _ any) (map[string]float64, error) {
	res, _, err := runOne(ctx, b, rt)
	if err != nil {
		return nil, err
	}
	return map[string]float64{
		"run.wall":   ms(res.wall),
		"run.cpu":    ms(res.cpu),
		"run.rss":    float64(res.maxRSS) / 1024,
		"run.faults": float64(res.faults),
		"run.csw":    float64(res.ctxSwitches),
	}, nil
}

// setupLimited reads the seccomp profile once per runtime; the compile is
// each runtime's own work and stays inside the timed run.
func setupLimited(_ context.Context, b *bench, _ *runtimeUnderTest) (any, error) {
	raw, err := os.ReadFile(b.cfg.seccompProfile)
	if err != nil {
		return nil, fmt.Errorf("-seccomp-profile: %w (run from the repository root, or pass the path)", err)
	}
	var profile specs.LinuxSeccomp
	if err := json.Unmarshal(raw, &profile); err != nil {
		return nil, fmt.Errorf("-seccomp-profile %s: %w", b.cfg.seccompProfile, err)
	}
	return &profile, nil
}

// podmanLike adds to base (kept: its device rules) what `podman run
// --memory 512m --pids-limit 2048 --cpu-shares 1024` puts in
// linux.resources (podman doubles the memory limit for memory+swap).
func podmanLike(base *specs.LinuxResources) *specs.LinuxResources {
	var r specs.LinuxResources
	if base != nil {
		r = *base
	}
	mem, swap, pids, shares := int64(512<<20), int64(1<<30), int64(2048), uint64(1024)
	r.Memory = &specs.LinuxMemory{Limit: &mem, Swap: &swap}
	r.Pids = &specs.LinuxPids{Limit: &pids}
	r.CPU = &specs.LinuxCPU{Shares: &shares}
	return &r
}

func runLimited(ctx context.Context, b *bench, rt *runtimeUnderTest, st any) (map[string]float64, error) {
	profile := st.(*specs.LinuxSeccomp)
	id, cg := rt.nextID(b.cgParent)
	edit := func(c *specs.Spec) {
		c.Linux.Seccomp = profile
		c.Linux.Resources = podmanLike(c.Linux.Resources)
	}
	if err := b.bundle.writeEdited([]string{"/bin/true"}, cg, edit); err != nil {
		return nil, err
	}
	res, err := b.timed(ctx, rt, "run", "--bundle", b.bundle.dir, id)
	if err != nil {
		b.salvage(rt, id, cg)
		return nil, err
	}
	return map[string]float64{"runlim.wall": ms(res.wall), "runlim.cpu": ms(res.cpu)}, nil
}

// runHundred sums the wall time of -row runs (100 by default) in a row;
// the regime's pauses between them are not counted.
func runHundred(ctx context.Context, b *bench, rt *runtimeUnderTest, _ any) (map[string]float64, error) {
	var sum time.Duration
	for i := 0; i < b.cfg.row; i++ {
		res, _, err := runOne(ctx, b, rt)
		if err != nil {
			return nil, fmt.Errorf("container %d of %d: %w", i+1, b.cfg.row, err)
		}
		sum += res.wall
	}
	return map[string]float64{"run100.wall": sum.Seconds()}, nil
}

// runCycle times each lifecycle step separately. The wait for exit goes
// through a pidfd opened while the init is still blocked in created state,
// so it measures the real exit, not a state-polling interval.
func runCycle(ctx context.Context, b *bench, rt *runtimeUnderTest, _ any) (map[string]float64, error) {
	c, err := b.createWatched(ctx, rt, "/bin/true")
	if err != nil {
		return nil, err
	}
	defer c.w.close()
	start, err := b.timed(ctx, rt, "start", c.id)
	if err != nil {
		b.salvage(rt, c.id, c.cg)
		return nil, err
	}
	t0 := time.Now()
	if err := c.w.wait(rt.timeout); err != nil {
		b.salvage(rt, c.id, c.cg)
		return nil, fmt.Errorf("%s container %s init %d: %w", rt.name, c.id, c.pid, err)
	}
	exited := time.Since(t0)
	del, err := b.timed(ctx, rt, "delete", c.id)
	if err != nil {
		b.salvage(rt, c.id, c.cg)
		return nil, err
	}
	out := map[string]float64{}
	out["cycle.create"] = ms(c.create.wall)
	out["cycle.start"] = ms(start.wall)
	out["cycle.exit"] = ms(exited)
	out["cycle.delete"] = ms(del.wall)
	out["cycle.total"] = ms(c.create.wall + start.wall + exited + del.wall)
	out["cycle.state"] = ms(c.state.wall)
	return out, nil
}

// watched is a created container whose init is watched through a pidfd,
// opened while the init is still blocked in the created state.
type watched struct {
	id, cg        string
	pid           int
	create, state cmdResult
	w             *pidWaiter
}

// createWatched writes the bundle for args, creates the container and
// opens a pidfd on its init; on failure it leaves nothing behind.
func (b *bench) createWatched(ctx context.Context, rt *runtimeUnderTest, args ...string) (*watched, error) {
	c := &watched{}
	c.id, c.cg = rt.nextID(b.cgParent)
	if err := b.bundle.write(args, c.cg); err != nil {
		return nil, err
	}
	var err error
	if c.create, err = b.timed(ctx, rt, "create", "--bundle", b.bundle.dir, c.id); err != nil {
		b.salvage(rt, c.id, c.cg)
		return nil, err
	}
	if c.pid, c.state, err = rt.statePID(ctx, b.regime.pause, c.id); err != nil {
		b.salvage(rt, c.id, c.cg)
		return nil, err
	}
	if c.w, err = openPidWaiter(c.pid); err != nil {
		b.salvage(rt, c.id, c.cg)
		return nil, fmt.Errorf("%s container %s: %w", rt.name, c.id, err)
	}
	return c, nil
}

// sleeper is a running container to exec into.
type sleeper struct {
	id, cg string
	w      *pidWaiter
}

func setupSleeper(ctx context.Context, b *bench, rt *runtimeUnderTest) (any, error) {
	c, err := b.createWatched(ctx, rt, "/bin/sleep", "3600")
	if err != nil {
		return nil, err
	}
	if _, err := rt.exec(ctx, execOpts{}, "start", c.id); err != nil {
		c.w.close()
		b.salvage(rt, c.id, c.cg)
		return nil, err
	}
	return &sleeper{id: c.id, cg: c.cg, w: c.w}, nil
}

func runExec(ctx context.Context, b *bench, rt *runtimeUnderTest, st any) (map[string]float64, error) {
	s := st.(*sleeper)
	res, err := b.timed(ctx, rt, "exec", s.id, "/bin/true")
	if err != nil {
		return nil, err
	}
	return map[string]float64{
		"exec.wall": ms(res.wall),
		"exec.cpu":  ms(res.cpu),
		"exec.rss":  float64(res.maxRSS) / 1024,
	}, nil
}

// teardownSleeper stops the container the way a user would (kill, wait,
// delete) and falls back to salvage when the runtime cannot.
func teardownSleeper(b *bench, rt *runtimeUnderTest, st any) error {
	s := st.(*sleeper)
	defer s.w.close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := rt.exec(ctx, execOpts{}, "kill", s.id, "KILL")
	if err == nil {
		err = s.w.wait(10 * time.Second)
	}
	if err == nil {
		_, err = rt.exec(ctx, execOpts{}, "delete", s.id)
	}
	if err != nil {
		b.salvage(rt, s.id, s.cg)
		return fmt.Errorf("stop %s container %s: %w", rt.name, s.id, err)
	}
	return nil
}

// salvage removes a container a failed step left behind: the runtime's own
// forced delete first, then the bench's cgroup sweep of that container.
func (b *bench) salvage(rt *runtimeUnderTest, id, cg string) {
	_ = rt.forceDelete(id)
	if err := removeCgroupTree(cg); err != nil {
		fmt.Fprintf(b.log, "warning: %v\n", err)
	}
	reapChildren()
}
