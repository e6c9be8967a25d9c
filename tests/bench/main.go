// Command bench measures hull against crun and runc on one bundle: run,
// create/start/delete, exec, CPU, peak RSS, page faults and context
// switches per run and 100 runs in a row, in three regimes (back to back,
// warm, cold); and hull, runc, crun and systemd-nspawn booting systemd in
// a Debian image (boot to running, shutdown). Runtimes are interleaved
// round-robin; it prints one Markdown table of medians and ratios per
// regime and writes every sample with -json.
//
// Every runtime command goes through a small static C launcher
// (launcher/launch.c) that times it and takes its rusage, so RSS is the
// runtime's and not the bench's. The bench re-executes itself in a private
// mount namespace, so that the launcher's fix for crun (an empty
// cgroup.controllers over the hybrid-mode cgroup2 mount, in a namespace of
// crun's command alone) never reaches the host. The parent process only
// waits and, whatever happened to the child, removes the run's cgroups and
// temp dir.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Environment passed from the parent to the namespaced child.
const (
	envDir    = "HULL_BENCH_DIR"
	envCgroup = "HULL_BENCH_CGROUP"
)

type config struct {
	paths     map[string]string // runtime name -> binary flag
	rootfs    string
	runtimes  []string
	cases     []string
	n, warmup int
	n100      int
	row       int // runs per sample of the "in a row" case
	nboot     int
	regimes   []string
	warmPause time.Duration
	coldPause time.Duration
	quick     bool
	jsonPath  string
	timeout   time.Duration
	noCrunFix bool
	// floor: the Go probes of the floor case (floor.go).
	floor []floorProbe
	// seccompProfile is the OCI linux.seccomp JSON of the "runlim" case.
	seccompProfile string
	// debianRootfs is the systemd image of the boot case, built by
	// debianScript when missing or stale.
	debianRootfs, debianScript string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := config{paths: map[string]string{}}
	hull := fs.String("hull", "", "hull binary (empty: hull in PATH, else n/a)")
	runc := fs.String("runc", "", "runc binary (default: runc in PATH)")
	crun := fs.String("crun", "", "crun binary (default: crun in PATH)")
	nspawn := fs.String("nspawn", "", "systemd-nspawn binary for the boot case (default: in PATH)")
	floor := fs.String("floor", "", "Go probes for the floor case, NAME=PATH comma separated (the Makefile builds tests/bench/floor/* as hull is built)")
	also := fs.String("also", "", "more OCI runtime columns, NAME=PATH comma separated (an A/B of two hull builds in one interleaved run: -also hull-b=/path/to/hull)")
	fs.StringVar(&c.rootfs, "rootfs", "", "busybox rootfs directory (tests/rootfs/busybox.sh)")
	rts := fs.String("runtimes", "hull,crun,runc,nspawn", "columns, comma separated; the first is compared to the others (nspawn: boot case only)")
	cases := fs.String("cases", "", "cases to run, comma separated (default all: run,cycle,exec,run100,runlim,floor,boot)")
	regimes := fs.String("regimes", strings.Join(regimeNames, ","), "regimes, comma separated: b2b (back to back), warm (-warm-pause before each measured command), cold (-cold-pause)")
	fs.DurationVar(&c.warmPause, "warm-pause", 20*time.Millisecond, "pause before each measured command in the warm regime")
	fs.DurationVar(&c.coldPause, "cold-pause", 100*time.Millisecond, "quiet time before each measured command in the cold regime")
	fs.IntVar(&c.row, "row", 100, "runs per sample of the run100 case (runs in a row)")
	fs.IntVar(&c.n, "n", envInt("BENCH_N", 30), "measured iterations per case and runtime (default: $BENCH_N, else 30)")
	fs.IntVar(&c.warmup, "warmup", 3, "unmeasured warm-up iterations per case and runtime")
	fs.IntVar(&c.n100, "n100", 3, "repetitions of the 100-container case")
	fs.IntVar(&c.nboot, "nboot", 10, "measured boots per runtime in the boot case (after 1 warm-up boot)")
	fs.StringVar(&c.debianRootfs, "debian-rootfs", "_build/debian-rootfs", "Debian 12 systemd image of the boot case (cached; built when missing)")
	fs.StringVar(&c.debianScript, "debian-script", "tests/rootfs/debian.sh", "script that builds -debian-rootfs")
	fs.BoolVar(&c.quick, "quick", false, "few iterations: -n 5 -warmup 1 -n100 1 -nboot 3")
	fs.StringVar(&c.jsonPath, "json", "", "write raw samples and summary to this file")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "limit for any single runtime command")
	fs.StringVar(&c.seccompProfile, "seccomp-profile", "libcontainer/seccomp/testdata/default.json", "OCI linux.seccomp JSON for the runlim case (an engine's default profile)")
	fs.BoolVar(&c.noCrunFix, "no-crun-cgroup-fix", false, "do not hide the hybrid-mode cgroup2 controllers from the runtimes")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	c.paths["hull"], c.paths["runc"], c.paths["crun"], c.paths["nspawn"] = *hull, *runc, *crun, *nspawn
	if c.quick {
		c.n, c.warmup, c.n100, c.nboot = 5, 1, 1, 3
	}
	c.runtimes = splitList(*rts)
	if err := c.addAlso(splitList(*also)); err != nil {
		return c, err
	}
	probes, err := parseFloor(splitList(*floor))
	if err != nil {
		return c, err
	}
	c.floor = probes
	c.cases = splitList(*cases)
	c.regimes = splitList(*regimes)
	if !c.wantCase("boot") {
		// nspawn has nothing to measure outside the boot case: no column.
		c.runtimes = slices.DeleteFunc(c.runtimes, func(r string) bool { return r == "nspawn" })
	}
	return c, c.check()
}

func (c config) check() error {
	if c.rootfs == "" {
		return errors.New("-rootfs is required")
	}
	if c.n < 1 || c.warmup < 0 || c.n100 < 0 || c.nboot < 1 || c.row < 1 {
		return fmt.Errorf("bad counts: -n %d -warmup %d -n100 %d -row %d -nboot %d", c.n, c.warmup, c.n100, c.row, c.nboot)
	}
	if c.warmPause < 0 || c.coldPause < 0 {
		return fmt.Errorf("bad pauses: -warm-pause %s -cold-pause %s", c.warmPause, c.coldPause)
	}
	if err := checkRegimes(c.regimes); err != nil {
		return err
	}
	if len(c.runtimes) == 0 {
		return errors.New("-runtimes is empty")
	}
	seen := map[string]bool{}
	for _, r := range c.runtimes {
		if seen[r] {
			return fmt.Errorf("-runtimes: %q twice", r)
		}
		seen[r] = true
	}
	known := map[string]bool{}
	for _, bc := range allCases() {
		known[bc.name] = true
	}
	for _, name := range c.cases {
		if !known[name] {
			return fmt.Errorf("-cases: unknown case %q", name)
		}
	}
	return nil
}

// addAlso adds -also's NAME=PATH runtimes as columns after the others.
func (c *config) addAlso(pairs []string) error {
	for _, p := range pairs {
		name, path, ok := strings.Cut(p, "=")
		if !ok || name == "" || path == "" || strings.ContainsAny(name, "/ ") {
			return fmt.Errorf("-also: %q is not NAME=PATH", p)
		}
		if name == "nspawn" {
			return fmt.Errorf("-also: %q: nspawn is not an OCI runtime", p)
		}
		if _, known := c.paths[name]; known {
			return fmt.Errorf("-also: %q: %s is already a column", p, name)
		}
		c.paths[name] = path
		c.runtimes = append(c.runtimes, name)
	}
	return nil
}

func (c config) wantCase(name string) bool {
	if len(c.cases) == 0 {
		return true
	}
	for _, n := range c.cases {
		if n == name {
			return true
		}
	}
	return false
}

// envInt is the integer in the environment variable name, or def when it
// is unset or not a positive number (make bench BENCH_N=5).
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench: needs root on Linux (creates containers and cgroups)")
		os.Exit(2)
	}
	if dir := os.Getenv(envDir); dir != "" {
		os.Exit(inner(cfg, dir, os.Getenv(envCgroup)))
	}
	os.Exit(outer(cfg))
}
