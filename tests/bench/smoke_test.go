package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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

// TestFloorSmoke runs the floor case with one probe built here: every
// runtime's `--version` and the probe get a peak RSS that a process has,
// in the table and in the JSON.
func TestFloorSmoke(t *testing.T) {
	hull, rootfs := requireBench(t)
	dir := t.TempDir()
	probe := filepath.Join(dir, "go-start")
	if out, err := exec.Command("go", "build", "-o", probe, "./floor/go-start").CombinedOutput(); err != nil {
		t.Fatalf("build the probe: %v\n%s", err, out)
	}
	jsonPath := filepath.Join(dir, "bench.json")
	text := runBench(t, "-hull", hull, "-rootfs", rootfs, "-cases", "floor", "-n", "2", "-warmup", "0",
		"-floor", "go-start="+probe, "-json", jsonPath)
	if !strings.Contains(text, "| --version peak RSS |") || !strings.Contains(text, "  go-start: peak RSS ") {
		t.Error("no --version row or no go-start line")
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
	if len(rep.Floor) != 1 || rep.Floor[0].Iters != 2 || rep.Floor[0].RSSMiB < 0.5 || rep.Floor[0].RSSMiB > 200 {
		t.Errorf("floor probes in the JSON: %+v, want go-start with 2 iterations and a process's peak RSS", rep.Floor)
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

// TestLibRunProbe runs the floor case's go-lib-run probe on a container
// whose process exits 7: the probe runs a real container (its status is
// the container's), and leaves no state directory and no cgroup behind.
func TestLibRunProbe(t *testing.T) {
	_, rootfs := requireBench(t)
	dir := t.TempDir()
	probe := filepath.Join(dir, "go-lib-run")
	if out, err := exec.Command("go", "build", "-o", probe, "./floor/go-lib-run").CombinedOutput(); err != nil {
		t.Fatalf("build the probe: %v\n%s", err, out)
	}
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Fatal(err)
	}
	b, err := newBundle(context.Background(), runc, t.TempDir(), rootfs)
	if err != nil {
		t.Fatal(err)
	}
	cg := fmt.Sprintf("/hull-floor-test-%d", os.Getpid())
	t.Cleanup(func() {
		for _, d := range cgroupDirs(cg) {
			os.Remove(d)
		}
	})
	if err := b.write([]string{"/bin/sh", "-c", "exit 7"}, cg+"/probe"); err != nil {
		t.Fatal(err)
	}
	before, _ := filepath.Glob(probeRoots)
	out, err := exec.Command(probe, "run", "--bundle", b.dir, "floor-test").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 7 {
		t.Fatalf("go-lib-run: %v, want the container's exit status 7\n%s", err, out)
	}
	if after, _ := filepath.Glob(probeRoots); len(after) != len(before) {
		t.Errorf("state directories left: %v (before: %v)", after, before)
	}
	if dirs := cgroupDirs(cg + "/probe"); len(dirs) > 0 {
		t.Errorf("cgroups left: %v", dirs)
	}
}
