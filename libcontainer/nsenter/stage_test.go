package nsenter

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/wire"
	"github.com/hull-runtime/hull/tests/testenv"
)

// buildStage builds hull-stage from this package's C sources with the
// Makefile's own rule, into a temporary directory. hull-stage is linked
// statically: where the C compiler cannot link even a trivial static
// program (no static libc), the test skips saying so; any other build
// error fails it.
func buildStage(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skipf("no make to build hull-stage: %v", err)
	}
	switch why, err := staticLinkProbe(); {
	case err != nil:
		t.Fatalf("probe for a static link: %v", err)
	case why != "":
		t.Skip(why)
	}
	out := filepath.Join(t.TempDir(), StageName)
	cmd := exec.Command("make", "-s", "-C", "../..", "STAGE="+out, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build hull-stage: %v\n%s", err, b)
	}
	return out
}

// staticLinkProbe links a trivial program with -static and the C compiler
// make builds hull-stage with (STAGE_CC), once per test binary: "" when that works,
// else why hull-stage cannot be built here.
var staticLinkProbe = sync.OnceValues(func() (string, error) {
	cc, err := testenv.ReadMakeVar("../..", "STAGE_CC")
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "hull-static-probe-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "probe.c")
	if err := os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644); err != nil {
		return "", err
	}
	argv := strings.Fields(cc)
	out, err := exec.Command(argv[0], append(argv[1:], "-static", "-o", filepath.Join(dir, "probe"), src)...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("hull-stage is linked statically, and `%s -static` cannot link a trivial program here "+
			"(no static libc: libc6-dev on Debian, glibc-static on Fedora; tests/deps.sh installs it): %v\n%s", cc, err, bytes.TrimSpace(out)), nil
	}
	return "", nil
})

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

// TestStageBuildWithoutStaticLibc: the stage tests skip, naming the
// cause, where static linking cannot work (here: in a mount namespace of
// their own, an empty archive over the stage's C library's libc.a), and fail on another
// build error (a missing header) as before.
func TestStageBuildWithoutStaticLibc(t *testing.T) {
	requireRoot(t)
	switch why, err := staticLinkProbe(); {
	case err != nil:
		t.Fatalf("probe for a static link: %v", err)
	case why != "":
		t.Skip(why) // the "another build error" case would skip, not fail
	}
	cc := testenv.MakeVar(t, "../..", "STAGE_CC")
	libc, out, err := staticLibc(t, cc)
	if err != nil || !filepath.IsAbs(libc) {
		t.Skipf("%s finds no libc.a to hide (%v %q): the stage tests skip here anyway", cc, err, out)
	}
	empty := filepath.Join(t.TempDir(), "libc.a")
	if err := os.WriteFile(empty, []byte("!<arch>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		hideLibc  bool
		env       string
		want      []string
		wantError bool
	}{
		{"no static libc", true, "", []string{"--- SKIP: TestStageRefuses", "cannot link a trivial program"}, false},
		{"another build error", false, "STAGE_CFLAGS=-include /nonexistent/hull-test.h", []string{"--- FAIL: TestStageRefuses", "build hull-stage"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script := `exec "$@"`
			if tc.hideLibc {
				script = `mount --bind "$HULL_TEST_EMPTY" "$HULL_TEST_LIBC" && exec "$@"`
			}
			cmd := exec.Command("sh", "-c", script, "sh", os.Args[0], "-test.run", "^TestStageRefuses$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), "HULL_TEST_EMPTY="+empty, "HULL_TEST_LIBC="+libc, tc.env)
			// Its own mount namespace (private: os/exec makes / so), gone with it.
			cmd.SysProcAttr = &unix.SysProcAttr{Unshareflags: unix.CLONE_NEWNS}
			out, err := cmd.CombinedOutput()
			if (err != nil) != tc.wantError {
				t.Errorf("exit: %v, want an error %v", err, tc.wantError)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("no %q in:\n%s", w, out)
				}
			}
		})
	}
}

// staticLibc is the libc.a cc links a static program with, from the
// linker's trace (musl-gcc's -print-file-name names glibc's, not the one
// its specs link).
func staticLibc(t *testing.T, cc string) (libc string, out []byte, err error) {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "probe.c")
	if err := os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644); err != nil {
		return "", nil, err
	}
	argv := strings.Fields(cc)
	out, err = exec.Command(argv[0], append(argv[1:], "-static", "-Wl,--trace", "-o", filepath.Join(dir, "probe"), src)...).CombinedOutput()
	if err != nil {
		return "", out, err
	}
	for _, line := range strings.Split(string(out), "\n") {
		if line = strings.TrimSpace(line); filepath.Base(line) == "libc.a" {
			return filepath.Clean(line), out, nil
		}
	}
	return "", out, nil
}
