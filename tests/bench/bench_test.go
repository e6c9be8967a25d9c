package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestQuantile(t *testing.T) {
	tests := []struct {
		xs   []float64
		q    float64
		want float64
	}{
		{[]float64{5}, 0.5, 5},
		{[]float64{3, 1, 2}, 0.5, 2},
		{[]float64{4, 1, 3, 2}, 0.5, 2.5},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.9, 9.1},
		{[]float64{10, 1}, 0, 1},
		{[]float64{10, 1}, 1, 10},
	}
	for _, tt := range tests {
		if got := quantile(tt.xs, tt.q); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("quantile(%v, %v) = %v, want %v", tt.xs, tt.q, got, tt.want)
		}
	}
	if got := quantile(nil, 0.5); !math.IsNaN(got) {
		t.Errorf("quantile(nil) = %v, want NaN", got)
	}
	xs := []float64{3, 1, 2}
	quantile(xs, 0.5)
	if xs[0] != 3 {
		t.Errorf("quantile sorted its input in place: %v", xs)
	}
}

func TestTableCells(t *testing.T) {
	rs := newResults([]string{"hull", "runc", "crun"})
	ms := []metric{{Key: "a", Label: "run", Unit: "ms"}, {Key: "b", Label: "rss", Unit: "MiB"}}
	rs.declare(ms...)
	for _, v := range []float64{10, 20, 30} {
		rs.add("a", "hull", v)
		rs.add("a", "runc", v*2)
		rs.add("b", "runc", 8)
	}
	rs.markAll(ms[1:], "hull", "boom", "")
	rs.markAll(ms, "crun", "", "crun not found")
	rs.finish()
	var buf bytes.Buffer
	rs.writeTable(&buf, "hull")
	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("want header, separator + 2 rows, got:\n%s", out)
	}
	checks := []struct {
		line int
		want string
	}{
		{0, "| median (p90) | hull | runc | crun | hull/runc | hull/crun |"},
		{1, "|---|---|---|---|---|---|"},
		{2, "| run | 20.0 ms (28.0) | 40.0 ms (56.0) | n/a | 0.50× | - |"},
		{3, "| rss | FAIL | 8.0 MiB | n/a | - | - |"},
	}
	for _, c := range checks {
		if lines[c.line] != c.want {
			t.Errorf("line %d = %q, want %q", c.line, lines[c.line], c.want)
		}
	}
	var notes bytes.Buffer
	rs.writeNotes(&notes)
	for _, w := range []string{"hull: FAIL rss: boom", "crun: n/a: crun not found"} {
		if !strings.Contains(notes.String(), w) {
			t.Errorf("notes lack %q:\n%s", w, notes.String())
		}
	}
	if strings.Count(notes.String(), "crun not found") != 1 {
		t.Errorf("n/a reason repeated per row:\n%s", notes.String())
	}
}

func TestNoRatiosWithoutSubject(t *testing.T) {
	rs := newResults([]string{"runc", "crun"})
	rs.declare(metric{Key: "a", Label: "run", Unit: "ms"})
	rs.add("a", "runc", 1)
	rs.finish()
	var buf bytes.Buffer
	rs.writeTable(&buf, "hull")
	if strings.Contains(buf.String(), "/") {
		t.Errorf("ratio columns for an absent subject:\n%s", buf.String())
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(config) bool
	}{
		{"defaults", []string{"-rootfs", "/r"}, "", func(c config) bool {
			return c.n == 30 && c.warmup == 3 && c.nboot == 10 && c.row == 100 && c.wantCase("boot") &&
				strings.Join(c.runtimes, ",") == "hull,crun,runc,nspawn" &&
				strings.Join(c.regimes, ",") == "b2b,warm,cold" &&
				c.warmPause == 20*time.Millisecond && c.coldPause == 100*time.Millisecond
		}},
		{"no boot, no nspawn column", []string{"-rootfs", "/r", "-cases", "run"}, "", func(c config) bool {
			return strings.Join(c.runtimes, ",") == "hull,crun,runc"
		}},
		{"regimes", []string{"-rootfs", "/r", "-regimes", "cold,b2b", "-cold-pause", "50ms"}, "", func(c config) bool {
			l := c.regimeList()
			// Print order is fixed, whatever order they were asked in.
			return len(l) == 2 && l[0].name == "b2b" && l[0].pause == 0 && l[1].name == "cold" && l[1].pause == 50*time.Millisecond
		}},
		{"unknown regime", []string{"-rootfs", "/r", "-regimes", "hot"}, `unknown regime "hot"`, nil},
		{"no regime", []string{"-rootfs", "/r", "-regimes", ","}, "-regimes is empty", nil},
		{"bad row", []string{"-rootfs", "/r", "-row", "0"}, "bad counts", nil},
		{"also", []string{"-rootfs", "/r", "-cases", "run", "-also", "hull-b=/b/hull, x=/x"}, "", func(c config) bool {
			return strings.Join(c.runtimes, ",") == "hull,crun,runc,hull-b,x" && c.paths["hull-b"] == "/b/hull" && c.paths["x"] == "/x"
		}},
		{"also not a pair", []string{"-rootfs", "/r", "-also", "hull-b"}, "not NAME=PATH", nil},
		{"also a known name", []string{"-rootfs", "/r", "-also", "runc=/x"}, "already a column", nil},
		{"also nspawn", []string{"-rootfs", "/r", "-also", "nspawn=/x"}, "not an OCI runtime", nil},
		{"floor", []string{"-rootfs", "/r", "-floor", "go-start=/p/go-start, go-cli=/p/go-cli"}, "", func(c config) bool {
			return len(c.floor) == 2 && c.floor[0] == floorProbe{"go-start", "/p/go-start"} &&
				c.floor[1] == floorProbe{"go-cli", "/p/go-cli"} && c.wantCase("floor")
		}},
		{"floor not a pair", []string{"-rootfs", "/r", "-floor", "/p/go-start"}, "not NAME=PATH", nil},
		{"floor without a path", []string{"-rootfs", "/r", "-floor", "go-start="}, "not NAME=PATH", nil},
		{"bad pause", []string{"-rootfs", "/r", "-warm-pause", "-1ms"}, "bad pauses", nil},
		{"bad nboot", []string{"-rootfs", "/r", "-nboot", "0"}, "bad counts", nil},
		{"quick", []string{"-rootfs", "/r", "-quick"}, "", func(c config) bool {
			return c.n == 5 && c.warmup == 1 && c.n100 == 1 && c.nboot == 3
		}},
		{"paths", []string{"-rootfs", "/r", "-hull", "/x/hull"}, "", func(c config) bool {
			return c.paths["hull"] == "/x/hull" && c.paths["runc"] == ""
		}},
		{"cases", []string{"-rootfs", "/r", "-cases", "run, exec"}, "", func(c config) bool {
			return c.wantCase("run") && c.wantCase("exec") && !c.wantCase("cycle")
		}},
		{"no rootfs", nil, "-rootfs is required", nil},
		{"bad n", []string{"-rootfs", "/r", "-n", "0"}, "bad counts", nil},
		{"unknown case", []string{"-rootfs", "/r", "-cases", "reboot"}, `unknown case "reboot"`, nil},
		{"dup runtime", []string{"-rootfs", "/r", "-runtimes", "runc,runc"}, "twice", nil},
		{"stray arg", []string{"-rootfs", "/r", "extra"}, "unexpected arguments", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseFlags(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("unexpected config %+v", c)
			}
		})
	}
}

func testBundle(t *testing.T) *bundle {
	t.Helper()
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("runc not installed: the bundle is generated with runc spec")
	}
	rootfs := t.TempDir()
	if err := os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/bin/busybox", filepath.Join(rootfs, "bin", "true")); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "rootfs-link")
	if err := os.Symlink(rootfs, link); err != nil {
		t.Fatal(err)
	}
	b, err := newBundle(context.Background(), runc, t.TempDir(), link)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := filepath.EvalSymlinks(rootfs); b.base.Root.Path != want {
		t.Errorf("root.path = %q, want symlink-free %q", b.base.Root.Path, want)
	}
	return b
}

func TestBundleConfig(t *testing.T) {
	b := testBundle(t)
	if err := b.write([]string{"/bin/true"}, "/hull-bench-1/runc-1"); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(b.dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c specs.Spec
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if c.Process.Terminal || strings.Join(c.Process.Args, " ") != "/bin/true" ||
		c.Linux.CgroupsPath != "/hull-bench-1/runc-1" || c.Root.Path != b.base.Root.Path {
		t.Errorf("written config: terminal=%v args=%q cgroupsPath=%q root=%q",
			c.Process.Terminal, c.Process.Args, c.Linux.CgroupsPath, c.Root.Path)
	}
	if len(c.Linux.Namespaces) == 0 || len(c.Mounts) == 0 {
		t.Error("runc spec defaults (namespaces, mounts) were lost")
	}
	// The base must not be changed by a per-container edit.
	if b.base.Linux.CgroupsPath != "" || strings.Join(b.base.Process.Args, " ") == "/bin/true" {
		t.Errorf("base config mutated: cgroupsPath=%q args=%q", b.base.Linux.CgroupsPath, b.base.Process.Args)
	}
	for _, bad := range []string{"", "/", "hull-bench/x", "relative"} {
		if err := b.write([]string{"/bin/true"}, bad); err == nil {
			t.Errorf("cgroupsPath %q accepted; it would land under the caller's cgroup", bad)
		}
	}
	if err := b.write(nil, "/hull-bench-1/x"); err == nil {
		t.Error("empty args accepted")
	}
}

func TestBundleRejectsRootfsWithoutTrue(t *testing.T) {
	b := &bundle{}
	if err := b.setRootfs(t.TempDir()); err == nil || !strings.Contains(err.Error(), "bin/true") {
		t.Errorf("setRootfs(empty dir) = %v, want bin/true error", err)
	}
}

func TestPidWaiter(t *testing.T) {
	// The clock starts before the child: the child cannot exit sooner than
	// 200 ms after it, however late this goroutine runs again (taken after
	// Start, a loaded host's delay before t0 counted against the child).
	t0 := time.Now()
	cmd := exec.Command("/bin/sh", "-c", "sleep 0.2")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w, err := openPidWaiter(cmd.Process.Pid)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Skipf("pidfd_open unavailable: %v", err)
	}
	defer w.close()
	if err := w.wait(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 200*time.Millisecond {
		t.Errorf("wait returned after %s, before the process could exit", d)
	}
	// wait reaped our child through the pidfd; Wait must now find nothing.
	if err := cmd.Wait(); err == nil {
		t.Error("child was not reaped by pidWaiter.wait")
	}
}

func TestPidWaiterTimeout(t *testing.T) {
	cmd := exec.Command("/bin/sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	w, err := openPidWaiter(cmd.Process.Pid)
	if err != nil {
		t.Skipf("pidfd_open unavailable: %v", err)
	}
	defer w.close()
	if err := w.wait(100 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "did not exit") {
		t.Errorf("wait on a sleeping process = %v, want timeout", err)
	}
}

func TestCgroupMountsFound(t *testing.T) {
	mnts, err := cgroupMounts()
	if err != nil {
		t.Fatal(err)
	}
	if len(mnts) == 0 {
		t.Skip("no cgroup filesystem mounted here")
	}
	for _, m := range mnts {
		if _, err := os.Stat(filepath.Join(m, "cgroup.procs")); err != nil {
			t.Errorf("cgroup mount %s has no cgroup.procs: %v", m, err)
		}
	}
}
