package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// prepare resolves the runtimes, their state dirs, the launcher and the
// shared bundle; hide is crun's cgroup2 fix (empty: none).
func prepare(ctx context.Context, cfg config, tmp, cg, hide string) (*bench, error) {
	b := &bench{cfg: cfg, tmp: tmp, cgParent: cg, log: os.Stderr}
	launcher, err := buildLauncher(ctx, tmp)
	if err != nil {
		return nil, err
	}
	b.launcher = launcher
	for _, name := range cfg.runtimes {
		rt := resolveRuntime(name, cfg.paths[name])
		rt.timeout = cfg.timeout
		rt.errLog = filepath.Join(tmp, name+".stderr")
		rt.launcher = launcher
		if name == "crun" {
			rt.hide = hide
		}
		if !rt.machine {
			rt.root = filepath.Join(tmp, "state", name)
		}
		if rt.missing == "" && rt.root != "" {
			if err := os.MkdirAll(rt.root, 0o700); err != nil {
				return nil, fmt.Errorf("state dir for %s: %w", name, err)
			}
		}
		if rt.missing == "" {
			rt.dropErr = rt.readFromDisk()
			rt.probeVersion()
			rt.noteMapFaults()
		}
		b.rts = append(b.rts, rt)
	}
	runc := resolveRuntime("runc", cfg.paths["runc"])
	dir := filepath.Join(tmp, "bundle")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bundle dir: %w", err)
	}
	bun, err := newBundle(ctx, runc.path, dir, cfg.rootfs)
	if err != nil {
		return nil, err
	}
	b.bundle = bun
	b.loadStart = loadAvg()
	return b, nil
}

// table is the results of one regime (or of a case measured once); after,
// when set, prints what the case measured beside its table.
type table struct {
	regime regime
	res    *results
	after  func(io.Writer)
}

// startTable makes the results that the next cases fill: the OCI
// runtimes' columns, and the machine managers' too when machines is set.
func (b *bench) startTable(rg regime, machines bool) {
	var cols []string
	for _, rt := range b.rts {
		if machines || !rt.machine {
			cols = append(cols, rt.name)
		}
	}
	b.regime, b.res = rg, newResults(cols)
	b.tables = append(b.tables, table{regime: rg, res: b.res})
}

func (b *bench) writeHeader(w io.Writer) {
	fmt.Fprintf(w, "hull bench, %s\n", time.Now().Format(time.RFC3339))
	fmt.Fprintf(w, "machine:   %d CPUs (%s), kernel %s, %s\n", runtime.NumCPU(), cpuModel(), kernelRelease(), runtime.Version())
	fmt.Fprintf(w, "load:      %s at the start (1, 5, 15 min averages, running/total tasks)\n", b.loadStart)
	fmt.Fprintf(w, "cgroups:   %s\n", b.cgroupMode)
	fmt.Fprintf(w, "crun fix:  %s\n", b.crunFix)
	for _, rt := range b.rts {
		if rt.missing != "" {
			fmt.Fprintf(w, "%-10s n/a: %s\n", rt.name+":", rt.missing)
			continue
		}
		fmt.Fprintf(w, "%-10s %s (%s)\n", rt.name+":", rt.version, rt.path)
	}
	fmt.Fprintf(w, "page cache: each runtime's binary and the helpers beside it (NAME-*) dropped from the page cache before the run, "+
		"so each is read from disk by its first command, as after a boot; then, page faults to map each binary whole: %s\n", b.mapFaultsLine())
	fmt.Fprintf(w, "bundle:    runc spec default, terminal=false, root %s (readonly=%v), cgroupsPath %s/<runtime>-<n>\n",
		b.bundle.base.Root.Path, b.bundle.base.Root.Readonly, b.cgParent)
	fmt.Fprintf(w, "measured:  every command through a static C launcher (tests/bench/launcher/launch.c): wall from spawn to reap, "+
		"CPU, peak RSS, page faults and context switches from wait4's rusage of the runtime and the children it waited for\n")
	if b.cfg.wantCase("boot") {
		fmt.Fprintf(w, "boot:      copy of %s (Debian 12, systemd); hull/runc/crun run one `hull convert -b --console=pipe` bundle, nspawn runs "+
			"`systemd-nspawn --keep-unit --register=no --console=pipe --notify-ready=yes -b -D` in cgroups %s/nspawn-<n>; "+
			"ready = gate release -> READY=1 on the bench's NOTIFY_SOCKET (then checked: is-system-running = running), "+
			"shutdown = SIGRTMIN+3 to the container's PID 1 -> runtime exit\n", b.cfg.debianRootfs, b.cgParent)
	}
	fmt.Fprintf(w, "schedule:  regimes %s; per regime %d warm-up + %d measured iterations per case (in a row: %d x %d runs; boot, once: 1 + %d), "+
		"runtimes round-robin, rotated each iteration\n\n",
		strings.Join(b.cfg.regimes, ","), b.cfg.warmup, b.cfg.n, b.cfg.n100, b.cfg.row, b.cfg.nboot)
}

// report prints one Markdown table per regime with its notes, and writes
// -json.
func (b *bench) report(w io.Writer) {
	subject := ""
	if len(b.cfg.runtimes) > 1 {
		subject = b.cfg.runtimes[0]
	}
	for _, t := range b.tables {
		t.res.finish()
		fmt.Fprintf(w, "\n### %s\n\n", t.regime.title)
		t.res.writeTable(w, subject)
		if t.after != nil {
			t.after(w)
		}
		var notes strings.Builder
		t.res.writeNotes(&notes)
		if notes.Len() > 0 {
			fmt.Fprint(w, "\nnotes:\n"+notes.String())
		}
	}
	fmt.Fprintf(w, "\nload: %s at the start, %s at the end\n", b.loadStart, loadAvg())
	if b.cfg.jsonPath != "" {
		if err := b.writeJSON(b.cfg.jsonPath); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		} else {
			fmt.Fprintf(w, "raw samples: %s\n", b.cfg.jsonPath)
		}
	}
}

type jsonCell struct {
	Samples []float64 `json:"samples"`
	Median  *float64  `json:"median,omitempty"`
	P90     *float64  `json:"p90,omitempty"`
	Error   string    `json:"error,omitempty"`
	NA      string    `json:"na,omitempty"`
}

type jsonRow struct {
	Metric metric              `json:"metric"`
	Cells  map[string]jsonCell `json:"cells"`
}

type jsonTable struct {
	Regime  string    `json:"regime"`
	Title   string    `json:"title"`
	PauseMS float64   `json:"pause_ms"`
	Rows    []jsonRow `json:"rows"`
}

type jsonRuntime struct {
	Name    string `json:"name"`
	Path    string `json:"path,omitempty"`
	Version string `json:"version,omitempty"`
	Missing string `json:"missing,omitempty"`
	// MapFaults: page faults to map the binary whole (0: not measured).
	MapFaults int64 `json:"map_faults,omitempty"`
}

type jsonReport struct {
	Time     time.Time      `json:"time"`
	Machine  map[string]any `json:"machine"`
	Config   map[string]any `json:"config"`
	Runtimes []jsonRuntime  `json:"runtimes"`
	Tables   []jsonTable    `json:"tables"`
	Samples  []sample       `json:"samples"`
	Floor    []floorResult  `json:"floor,omitempty"`
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func (b *bench) writeJSON(path string) error {
	rep := jsonReport{
		Time: time.Now(),
		Machine: map[string]any{"cpus": runtime.NumCPU(), "cpu": cpuModel(), "kernel": kernelRelease(),
			"cgroups": b.cgroupMode, "crun_fix": b.crunFix, "load_start": b.loadStart, "load_end": loadAvg()},
		Config: map[string]any{"n": b.cfg.n, "warmup": b.cfg.warmup, "n100": b.cfg.n100, "row": b.cfg.row, "nboot": b.cfg.nboot,
			"regimes": b.cfg.regimes, "rootfs": b.bundle.base.Root.Path, "cgroup_parent": b.cgParent},
		Samples: b.samples,
		Floor:   b.floor,
	}
	for _, rt := range b.rts {
		rep.Runtimes = append(rep.Runtimes, jsonRuntime{rt.name, rt.path, rt.version, rt.missing, rt.mapFaults})
	}
	for _, t := range b.tables {
		jt := jsonTable{Regime: t.regime.name, Title: t.regime.title, PauseMS: ms(t.regime.pause)}
		for _, r := range t.res.rows {
			jr := jsonRow{Metric: r.Metric, Cells: map[string]jsonCell{}}
			for name, c := range r.Cells {
				samples := c.Samples
				if samples == nil {
					samples = []float64{}
				}
				jr.Cells[name] = jsonCell{Samples: samples, Median: finite(c.Median), P90: finite(c.P90), Error: c.Error, NA: c.NA}
			}
			jt.Rows = append(jt.Rows, jr)
		}
		rep.Tables = append(rep.Tables, jt)
	}
	raw, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("write -json %s: %w", path, err)
		}
	}
	if err := os.WriteFile(path, append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("write -json %s: %w", path, err)
	}
	return nil
}

// loadAvg is /proc/loadavg's first four fields: how busy the machine was.
func loadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	if len(f) < 4 {
		return strings.TrimSpace(string(raw))
	}
	return strings.Join(f[:4], " ")
}

// reportLeaks names what a runtime left behind after its containers were
// deleted: state entries and cgroups. Run before cleanup removes them.
func (b *bench) reportLeaks(w io.Writer) {
	for _, rt := range b.rts {
		if ids := rt.leftoverContainers(); len(ids) > 0 {
			fmt.Fprintf(w, "leak: %s left %d container(s) in its state dir: %s\n", rt.name, len(ids), strings.Join(first(ids, 5), " "))
		}
	}
	byRuntime := map[string]map[string]bool{}
	mnts, _ := cgroupMounts()
	for _, d := range cgroupDirs(b.cgParent) {
		for _, m := range mnts {
			rel, err := filepath.Rel(filepath.Join(m, b.cgParent), d)
			if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
				continue
			}
			top := strings.SplitN(rel, "/", 2)[0]
			name := top[:max(strings.LastIndex(top, "-"), 0)]
			if byRuntime[name] == nil {
				byRuntime[name] = map[string]bool{}
			}
			byRuntime[name][filepath.Base(m)+":"+b.cgParent+"/"+rel] = true
		}
	}
	for name, set := range byRuntime {
		var l []string
		for k := range set {
			l = append(l, k)
		}
		sort.Strings(l)
		fmt.Fprintf(w, "leak: %s left %d cgroup dir(s): %s\n", name, len(l), strings.Join(first(l, 5), " "))
	}
}

func first(l []string, n int) []string {
	if len(l) > n {
		return append(l[:n:n], "...")
	}
	return l
}

// cleanup removes every container, cgroup and state dir of the run; it
// runs on success, failure and interrupt alike.
func (b *bench) cleanup() {
	for _, rt := range b.rts {
		for _, id := range rt.leftoverContainers() {
			_ = rt.forceDelete(id)
		}
	}
	if err := removeCgroupTree(b.cgParent); err != nil {
		fmt.Fprintln(os.Stderr, "bench: cleanup:", err)
	}
	if n := killOwnChildren(); n > 0 {
		fmt.Fprintf(os.Stderr, "bench: cleanup: killed %d stray container process(es)\n", n)
	}
	for _, rt := range b.rts {
		if rt.root != "" {
			_ = os.RemoveAll(rt.root)
		}
	}
}

// mapFaultsLine is "hull 126, crun 11, ..." for the header.
func (b *bench) mapFaultsLine() string {
	var parts []string
	for _, rt := range b.rts {
		if rt.missing != "" {
			continue
		}
		part := fmt.Sprintf("%s %d", rt.name, rt.mapFaults)
		if rt.mapErr != nil {
			part = fmt.Sprintf("%s n/a (%v)", rt.name, rt.mapErr)
		}
		if rt.dropErr != nil {
			part += fmt.Sprintf(" (not dropped: %v)", rt.dropErr)
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ")
}
