package nsenter

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/wire"
)

// buildStage builds hull-stage from this package's C sources with the
// Makefile's own rule, into a temporary directory.
func buildStage(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skipf("no make to build hull-stage: %v", err)
	}
	out := filepath.Join(t.TempDir(), StageName)
	cmd := exec.Command("make", "-s", "-C", "../..", "STAGE="+out, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build hull-stage: %v\n%s", err, b)
	}
	return out
}

// TestStageRefuses: hull-stage is no user command; without the C stage's
// environment, or with a process the finisher does not finish (the Go
// init's), it exits 2 saying so and does nothing.
func TestStageRefuses(t *testing.T) {
	bin := buildStage(t)
	for _, env := range [][]string{
		nil,
		{"_HULL_NSENTER=3"},
		{"_HULL_NSENTER=3", "_HULL_FINISH=0"},
		{"_HULL_NSENTER=3", "_HULL_FINISH=4"},
		{"_HULL_FINISH=1"},
	} {
		cmd := exec.Command(bin, "run", "x")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("env %q: %v, want exit status 2", env, err)
		}
		if !strings.Contains(string(out), "hull-stage: not a command") {
			t.Errorf("env %q: output %q, want it to say it is not a command", env, out)
		}
	}
	// A hull of another build: its stage ABI is refused before anything is done.
	for _, abi := range []string{"", "_HULL_STAGE_ABI=0", "_HULL_STAGE_ABI=" + strconv.Itoa(StageABI+1)} {
		cmd := exec.Command(bin)
		cmd.Env = []string{"_HULL_NSENTER=3", "_HULL_FINISH=1", abi}
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), "install hull and hull-stage from the same build") {
			t.Errorf("%q: %v %q, want exit status 2 naming the mismatch", abi, err, out)
		}
	}
}

// TestStageFinishes: hull-stage, built from the constructor's sources, is
// the C stage and the finisher for an exec'd process and for an init (with
// and without its cgroup namespace): the program it execs sees the
// process the message asked for.
func TestStageFinishes(t *testing.T) {
	requireRoot(t)
	bin := buildStage(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	for _, mode := range []Finish{FinishExec, FinishInit, FinishInitCgroupNS} {
		p := shellProcess(dir, `grep -E '^(Uid|Gid|NoNewPrivs):' /proc/self/status; umask; pwd; echo "FOO=$FOO"; echo pid=$$`)
		p.Flags = wire.FlagNoNewPrivs
		p.UID, p.GID, p.Groups = 1000, 1001, []uint32{1001}
		p.Umask = 0o027
		p.Env = append(p.Env, "FOO=stage")
		typ, msg, out := finishFrom(t, bin, &Request{Unshare: unix.CLONE_NEWPID, Finish: mode}, p, nil, nil)
		if typ != wire.MsgReady {
			t.Fatalf("mode %d: hull-stage answered %q %q", mode, typ, msg)
		}
		for _, want := range []string{"Uid:\t1000\t1000\t1000\t1000", "Gid:\t1001\t1001\t1001\t1001",
			"NoNewPrivs:\t1", "\n0027\n", "\n" + dir + "\n", "FOO=stage", "pid=1"} {
			if !strings.Contains(out, want) {
				t.Errorf("mode %d: the exec'd program's view lacks %q:\n%s", mode, want, out)
			}
		}
	}
}
