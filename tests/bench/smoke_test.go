package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// envTestMain makes the test binary act as the bench command, so the smoke
// test runs the real thing (re-exec into a private mount namespace and all).
const envTestMain = "HULL_BENCH_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envTestMain) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestBenchSmoke runs the bench once per case and regime for hull, crun
// and runc (the boot case aside: seconds per boot) and checks that every
// cell has a number, the JSON holds every sample and nothing is left.
func TestBenchSmoke(t *testing.T) {
	hull, rootfs := requireBench(t)
	jsonPath := filepath.Join(t.TempDir(), "bench.json")
	cases := "run,cycle,exec,run100,runlim"
	text := runBench(t, "-hull", hull, "-rootfs", rootfs, "-cases", cases, "-n", "1", "-warmup", "0",
		"-n100", "1", "-row", "2", "-seccomp-profile", "../../libcontainer/seccomp/testdata/default.json", "-json", jsonPath)
	if n := strings.Count(text, "\n### "); n != 3 {
		t.Errorf("%d tables, want one per regime (3)", n)
	}
	for _, bad := range []string{"FAIL", "n/a", "leak:"} {
		if strings.Contains(text, bad) {
			t.Errorf("output has %q", bad)
		}
	}
	if !strings.Contains(text, "| median (p90) | hull | crun | runc | hull/crun | hull/runc |") {
		t.Error("no Markdown header with hull, crun, runc and the ratios")
	}
	checkSmokeJSON(t, jsonPath, strings.Split(cases, ","))
}

// checkSmokeJSON checks the raw samples: each regime, case and runtime
// once, peak RSS in a runtime's range, and the run's cgroups gone.
func checkSmokeJSON(t *testing.T, path string, cases []string) {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Config  map[string]any `json:"config"`
		Samples []sample       `json:"samples"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, s := range rep.Samples {
		seen[s.Regime+"/"+s.Case+"/"+s.Runtime]++
		if rss, ok := s.Values["run.rss"]; ok && (rss < 0.5 || rss > 200) {
			t.Errorf("%s %s peak RSS %.1f MiB: not a runtime's", s.Regime, s.Runtime, rss)
		}
		if s.Case == "run" && (s.Values["run.faults"] <= 0 || s.Values["run.csw"] <= 0 || s.Values["run.cpu"] <= 0) {
			t.Errorf("%s %s run without faults, switches or CPU: %v", s.Regime, s.Runtime, s.Values)
		}
	}
	for _, rg := range regimeNames {
		for _, c := range cases {
			for _, rt := range []string{"hull", "crun", "runc"} {
				if n := seen[rg+"/"+c+"/"+rt]; n != 1 {
					t.Errorf("%s/%s/%s: %d samples, want 1", rg, c, rt, n)
				}
			}
		}
	}
	cg, _ := rep.Config["cgroup_parent"].(string)
	if !strings.HasPrefix(cg, "/hull-bench-") {
		t.Fatalf("cgroup_parent %q", cg)
	}
	if dirs := cgroupDirs(cg); len(dirs) > 0 {
		t.Errorf("cgroups left: %v", dirs)
	}
	if _, err := os.Stat(filepath.Join(os.TempDir(), cg)); !os.IsNotExist(err) {
		t.Errorf("temp dir %s left: %v", filepath.Join(os.TempDir(), cg), err)
	}
}

// TestFloorSmoke runs the floor case with two probes built here, go-start
// and go-lib-run (which runs containers): every runtime's `--version` and
// each probe get a peak RSS that a process has, in the table and in the
// JSON, and no probe fails or leaves state.
func TestFloorSmoke(t *testing.T) {
	hull, rootfs := requireBench(t)
	start, libRun := buildProbe(t, "go-start"), buildLibRunProbe(t, hull)
	jsonPath := filepath.Join(t.TempDir(), "bench.json")
	text := runBench(t, "-hull", hull, "-rootfs", rootfs, "-cases", "floor", "-n", "2", "-warmup", "0",
		"-floor", "go-start="+start+",go-lib-run="+libRun, "-json", jsonPath)
	for _, want := range []string{"| --version peak RSS |", "  go-start: peak RSS ", "  go-lib-run: peak RSS "} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in the report", want)
		}
	}
	if strings.Contains(text, "FAIL") || strings.Contains(text, "n/a") {
		t.Error("a cell failed or is n/a")
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Samples []sample      `json:"samples"`
		Floor   []floorResult `json:"floor"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Floor) != 2 {
		t.Errorf("floor probes in the JSON: %+v, want go-start and go-lib-run", rep.Floor)
	}
	for _, r := range rep.Floor {
		if r.Iters != 2 || r.RSSMiB < 0.5 || r.RSSMiB > 200 {
			t.Errorf("floor probe in the JSON: %+v, want 2 iterations and a process's peak RSS", r)
		}
	}
	seen := map[string]int{}
	for _, s := range rep.Samples {
		if rss := s.Values["floor.rss"]; s.Case == "floor" && (rss < 0.5 || rss > 200) {
			t.Errorf("%s --version peak RSS %.2f MiB: not a process's", s.Runtime, rss)
		}
		seen[s.Case+"/"+s.Runtime]++
	}
	for _, rt := range []string{"hull", "crun", "runc"} {
		if seen["floor/"+rt] != 2 {
			t.Errorf("floor/%s: %d samples, want 2", rt, seen["floor/"+rt])
		}
	}
}

// runBench runs this test binary as the bench command with args and
// returns what it printed.
func runBench(t *testing.T, args ...string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), envTestMain+"=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bench: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	t.Logf("bench output:\n%s", out)
	return string(out)
}

// requireBench returns HULL_BINARY and HULL_ROOTFS, or skips the test
// saying what the bench lacks here.
func requireBench(t *testing.T) (hull, rootfs string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: it creates containers and cgroups")
	}
	hull, rootfs = os.Getenv("HULL_BINARY"), os.Getenv("HULL_ROOTFS")
	if hull == "" || rootfs == "" {
		t.Skip("HULL_BINARY and HULL_ROOTFS unset (make test sets them)")
	}
	for _, p := range []string{hull, filepath.Join(rootfs, "bin", "true")} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%v (make build rootfs)", err)
		}
	}
	for _, rt := range []string{"crun", "runc", "cc"} {
		if _, err := exec.LookPath(rt); err != nil {
			t.Skipf("%s not installed: %v", rt, err)
		}
	}
	return hull, rootfs
}

// TestLibRunProbe runs the floor case's go-lib-run probe, with hull's
// hull-stage beside it as in the bench, on a container whose process
// exits 7: the probe runs a real container (its status is the
// container's), deletes it (an rmdir of its state root, or exit 125) and
// leaves no state directory and no cgroup behind.
func TestLibRunProbe(t *testing.T) {
	hull, rootfs := requireBench(t)
	dir, b, cg := probeBundle(t, rootfs, "/bin/sh", "-c", "exit 7")
	alone := buildProbe(t, "go-lib-run")
	if code, out := runProbe(t, alone, b.dir); code != 125 || !strings.Contains(out, "no hull-stage beside the probe") {
		t.Errorf("go-lib-run without hull-stage: exit %d, %q; want 125 naming hull-stage", code, out)
	}
	probe := buildLibRunProbe(t, hull)
	if code, out := runProbe(t, probe, b.dir); code != 7 {
		t.Fatalf("go-lib-run: exit %d, want the container's exit status 7\n%s", code, out)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "go-lib-run-*")); len(left) > 0 {
		t.Errorf("state directories left: %v", left)
	}
	if dirs := cgroupDirs(cg); len(dirs) > 0 {
		t.Errorf("cgroups left: %v", dirs)
	}
}

// runProbe runs `PROBE run --bundle BUNDLE floor-test` and returns its
// exit code and output. WaitDelay: a container's init that outlived a
// failing probe would hold the output pipe open.
func runProbe(t *testing.T, probe, bundle string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, probe, "run", "--bundle", bundle, "floor-test")
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s: %v\n%s", probe, err, out)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// buildLibRunProbe builds go-lib-run with a copy of hull's hull-stage
// beside it, as the Makefile does.
func buildLibRunProbe(t *testing.T, hull string) string {
	t.Helper()
	stage, err := os.ReadFile(filepath.Join(filepath.Dir(hull), "hull-stage"))
	if err != nil {
		t.Skipf("no hull-stage beside %s (make build): %v", hull, err)
	}
	probe := buildProbe(t, "go-lib-run")
	if err := os.WriteFile(filepath.Join(filepath.Dir(probe), "hull-stage"), stage, 0o755); err != nil {
		t.Fatal(err)
	}
	return probe
}

// probeBundle writes a bundle running args in a directory of its own,
// which it returns with the bundle and the container's cgroupsPath; the
// cgroup, and what a failure left running in it, is removed at the end.
func probeBundle(t *testing.T, rootfs string, args ...string) (dir string, b *bundle, cg string) {
	t.Helper()
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	bundleDir := filepath.Join(dir, "bundle")
	if err := os.Mkdir(bundleDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if b, err = newBundle(context.Background(), runc, bundleDir, rootfs); err != nil {
		t.Fatal(err)
	}
	parent := fmt.Sprintf("/hull-floor-test-%d", os.Getpid())
	t.Cleanup(func() { removeCgroupTree(parent) })
	cg = parent + "/" + strings.ReplaceAll(t.Name(), "/", "-")
	if err := b.write(args, cg); err != nil {
		t.Fatal(err)
	}
	return dir, b, cg
}

// buildProbe builds the floor probe under floor/name with the go command's
// defaults (not as the Makefile builds hull: these tests check what a
// probe does, not its figures) and returns its path.
func buildProbe(t *testing.T, name string) string {
	t.Helper()
	probe := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("go", "build", "-o", probe, "./floor/"+name).CombinedOutput(); err != nil {
		t.Fatalf("build the probe %s: %v\n%s", name, err, out)
	}
	return probe
}

// TestRemoveProbeState: what a probe killed at the time limit leaves, a
// created container in its state directory, is deleted with hull (its
// init is gone) and the directory removed and named; without a hull to
// delete it, the directory stays and the failure is reported.
func TestRemoveProbeState(t *testing.T) {
	hull, rootfs := requireBench(t)
	dir, bun, cg := probeBundle(t, rootfs, "/bin/sleep", "100")
	left := filepath.Join(dir, "go-lib-run-killed")
	root := filepath.Join(left, "state")
	// Its output to a file: the container's init inherits a pipe, and
	// would hold it open until it is killed.
	log, err := os.Create(filepath.Join(dir, "create.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	create := exec.Command(hull, "--root", root, "create", "--bundle", bun.dir, "left")
	create.Stdout, create.Stderr = log, log
	if err := create.Run(); err != nil {
		out, _ := os.ReadFile(log.Name())
		t.Fatalf("hull create: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(hull, "--root", root, "delete", "--force", "left").Run() })
	out, err := exec.Command(hull, "--root", root, "state", "left").Output()
	if err != nil {
		t.Fatalf("hull state: %v", err)
	}
	var st struct{ Pid int }
	if err := json.Unmarshal(out, &st); err != nil || st.Pid <= 0 {
		t.Fatalf("hull state: %q: %v", out, err)
	}
	// Without hull to delete it, the record stays.
	noHull := &bench{cfg: config{timeout: 30 * time.Second}, bundle: bun}
	if got, err := noHull.removeProbeState(); len(got) != 1 || got[0] != left || err == nil {
		t.Errorf("removeProbeState without hull = %v, %v; want [%s] and an error", got, err, left)
	}
	if _, err := os.Stat(root); err != nil {
		t.Fatalf("the state was removed though its container was not deleted: %v", err)
	}
	b := &bench{cfg: config{timeout: 30 * time.Second}, bundle: bun,
		rts: []*runtimeUnderTest{{name: "hull", path: hull}}}
	if got, err := b.removeProbeState(); len(got) != 1 || got[0] != left || err != nil {
		t.Errorf("removeProbeState = %v, %v; want [%s]", got, err, left)
	}
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("%s still there: %v", left, err)
	}
	if alive(st.Pid) {
		t.Errorf("the container's init %d still runs", st.Pid)
	}
	if dirs := cgroupDirs(cg); len(dirs) > 0 {
		t.Errorf("cgroups left: %v", dirs)
	}
}

// alive says whether pid runs (neither gone nor a zombie) after a second
// for it to be reaped: a killed init is reaped by whoever adopted it.
func alive(pid int) bool {
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		// The state follows the command name's closing parenthesis.
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return false
		}
	}
	return true
}
