package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseUsage(t *testing.T) {
	tests := []struct {
		line    string
		want    usage
		wantErr string
	}{
		{"1500000 2000 3000 4096 100 2 7 3 0\n", usage{wall: 1500 * time.Microsecond, cpu: 5 * time.Millisecond,
			maxRSS: 4096, faults: 102, majorFaults: 2, ctxSwitches: 10, involuntaryCS: 3}, ""},
		{"1 0 0 0 0 0 0 0 137", usage{wall: 1, status: 137}, ""},
		{"1 2 3", usage{}, "want 9 fields"},
		{"1 2 3 4 5 6 7 8 x", usage{}, "field 9"},
		{"", usage{}, "want 9 fields"},
	}
	for _, tt := range tests {
		got, err := parseUsage([]byte(tt.line))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseUsage(%q) err = %v, want %q", tt.line, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseUsage(%q) = %+v, %v; want %+v", tt.line, got, err, tt.want)
		}
	}
}

func TestCellText(t *testing.T) {
	c := &cell{Samples: []float64{1.5}, Median: 1.5, P90: 2.25}
	for unit, want := range map[string]string{"ms": "1.5 ms (2.2)", "s": "1.50 s (2.25)", "MiB": "1.5 MiB", "count": "2"} {
		if got := c.text(unit); got != want {
			t.Errorf("text(%q) = %q, want %q", unit, got, want)
		}
	}
}

// testLauncher builds the launcher once per test into a temp dir.
func testLauncher(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler: the launcher cannot be built")
	}
	bin, err := buildLauncher(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// launch runs argv through the launcher and returns its result line.
func launch(t *testing.T, bin string, pause time.Duration, hide string, argv ...string) (usage, int, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(bin, launchArgs("3", pause, hide, argv)...)
	cmd.ExtraFiles = []*os.File{w}
	var out strings.Builder
	cmd.Stdout = &out
	err = cmd.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	n, _ := r.Read(buf)
	if n == 0 {
		return usage{}, code, out.String()
	}
	u, err := parseUsage(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	return u, code, out.String()
}

func TestLauncherStatusAndTiming(t *testing.T) {
	bin := testLauncher(t)
	u, code, _ := launch(t, bin, 0, "", "/bin/sh", "-c", "exit 7")
	if code != 7 || u.status != 7 {
		t.Errorf("exit 7: launcher exit %d, reported %d", code, u.status)
	}
	u, code, _ = launch(t, bin, 0, "", "/bin/sh", "-c", "kill -9 $$")
	if code != 137 || u.status != 137 {
		t.Errorf("SIGKILL: launcher exit %d, reported %d, want 137", code, u.status)
	}
	if _, code, _ = launch(t, bin, 0, "", "/nonexistent/runtime"); code != 127 {
		t.Errorf("missing program: launcher exit %d, want 127", code)
	}
	// The pause is slept before the clock starts: it is not in wall.
	t0 := time.Now()
	u, _, _ = launch(t, bin, time.Second, "", "/bin/sleep", "0.1")
	if took := time.Since(t0); took < 1100*time.Millisecond {
		t.Errorf("pause 1s + sleep 0.1 took %s", took)
	}
	if u.wall < 100*time.Millisecond || u.wall >= time.Second {
		t.Errorf("wall of sleep 0.1 after a 1s pause = %s, want 100ms and not the pause", u.wall)
	}
	// CPU of a busy child is counted; a sleeping one is not.
	u, _, _ = launch(t, bin, 0, "", "/bin/sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done")
	if u.cpu < 20*time.Millisecond {
		t.Errorf("CPU of a busy shell loop = %s", u.cpu)
	}
}

// TestLauncherRSS is why the launcher exists: a child started from the Go
// bench reports the bench's own peak RSS; through the launcher it reports
// its own, as /usr/bin/time -v does.
func TestLauncherRSS(t *testing.T) {
	bin := testLauncher(t)
	ballast := make([]byte, 64<<20)
	for i := range len(ballast) / 4096 {
		ballast[i*4096] = 1
	}
	naive := exec.Command("/bin/true")
	if err := naive.Run(); err != nil {
		t.Fatal(err)
	}
	naiveKiB := naive.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
	runtime.KeepAlive(ballast)
	if naiveKiB < 64<<10 {
		t.Errorf("/bin/true started from Go reports %d KiB: expected the 64 MiB of this process (the harness's RSS) — "+
			"if the kernel no longer does that, the launcher's comment is wrong", naiveKiB)
	}
	small, _, _ := launch(t, bin, 0, "", "/bin/true")
	if small.maxRSS <= 0 || small.maxRSS > 8<<10 {
		t.Errorf("/bin/true through the launcher: %d KiB, want its own few hundred KiB", small.maxRSS)
	}
	big, _, _ := launch(t, bin, 0, "", "/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=48M", "count=1", "status=none")
	if big.maxRSS < 48<<10 || big.maxRSS > 64<<10 {
		t.Errorf("dd with a 48 MiB buffer through the launcher: %d KiB", big.maxRSS)
	}
	gnuTime, err := exec.LookPath("/usr/bin/time")
	if err != nil {
		t.Log("no /usr/bin/time: not compared")
		return
	}
	for _, argv := range [][]string{{"/bin/true"}, {"/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=48M", "count=1", "status=none"}} {
		u, _, _ := launch(t, bin, 0, "", argv...)
		out, err := exec.Command(gnuTime, append([]string{"-v"}, argv...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s -v %v: %v: %s", gnuTime, argv, err, out)
		}
		_, v, _ := strings.Cut(string(out), "Maximum resident set size (kbytes):")
		v, _, _ = strings.Cut(strings.TrimSpace(v), "\n")
		ref, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			t.Fatalf("time output %q", out)
		}
		if diff := u.maxRSS - ref; diff > ref/4+512 || -diff > ref/4+512 {
			t.Errorf("%v: launcher %d KiB, /usr/bin/time -v %d KiB", argv, u.maxRSS, ref)
		}
		t.Logf("%v: launcher %d KiB, /usr/bin/time %d KiB, started from Go with 64 MiB in the harness %d KiB", argv, u.maxRSS, ref, naiveKiB)
	}
}

// TestLauncherHidesControllers checks crun's fix: the empty file covers
// the cgroup2 controllers for the launched program only.
func TestLauncherHidesControllers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (mount namespace)")
	}
	before, err := os.ReadFile(unifiedControllers)
	if err != nil || strings.TrimSpace(string(before)) == "" {
		t.Skipf("no hybrid cgroup2 with controllers here (%s: %v)", unifiedControllers, err)
	}
	bin := testLauncher(t)
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	_, code, out := launch(t, bin, 0, empty, "/bin/cat", unifiedControllers)
	if code != 0 || out != "" {
		t.Errorf("launched cat of %s: exit %d, %q; want empty", unifiedControllers, code, out)
	}
	_, _, out = launch(t, bin, 0, "", "/bin/cat", unifiedControllers)
	if out != string(before) {
		t.Errorf("without the fix the launched program reads %q, want the host's %q", out, before)
	}
	if after, _ := os.ReadFile(unifiedControllers); string(after) != string(before) {
		t.Errorf("host's %s changed to %q", unifiedControllers, after)
	}
}
