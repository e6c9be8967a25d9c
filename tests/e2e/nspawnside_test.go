package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	nspawnhooks "github.com/hull-runtime/hull/hooks/nspawn"
	"github.com/hull-runtime/hull/tests/testenv"
)

// TestNspawnSideThroughHull: hull nspawn, convert and nspawn-hook are
// hull-nspawn's (beside hull), reached through hull's exec of it: the help
// lists the nspawn flags from the converter's key table, which hull does
// not link; a hook blocked on its stdin is the process hull was started
// as, now running hull-nspawn (an exec, not a child).
func TestNspawnSideThroughHull(t *testing.T) {
	bin, _ := testenv.RequireHull(t, "end-to-end tests")
	side := filepath.Join(filepath.Dir(bin), "hull-nspawn")
	if _, err := os.Stat(side); err != nil {
		t.Fatalf("hull-nspawn not beside %s (make build makes both): %v", bin, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"nspawn", "--help"}, "systemd-nspawn flags hull supports"},
		{[]string{"convert", "-h"}, "--bundle OUT         directory to write the OCI bundle into"},
		{[]string{"--debug", "nspawn", "--help"}, "--boot"},
	} {
		out, err := exec.Command(bin, tc.args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("hull %q: %v, want %q in:\n%s", tc.args, err, tc.want, out)
		}
	}
	out, err := exec.Command(bin, "nspawn-hook").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "nspawn-hook: missing action") {
		t.Errorf("hull nspawn-hook without an action: %v, want exit 2 and its message:\n%s", err, out)
	}

	cmd := exec.Command(bin, "nspawn-hook", nspawnhooks.ActionRemovePorts)
	stdin, err := cmd.StdinPipe()
	must(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	exe := ""
	waitUntil(5*time.Second, func() bool {
		exe, _ = os.Readlink("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/exe")
		return exe == side
	})
	stdin.Close()
	err = cmd.Wait()
	if exe != side {
		t.Errorf("hull nspawn-hook's process runs %q, want %s", exe, side)
	}
	if err == nil || !strings.Contains(stderr.String(), "read container state from stdin") {
		t.Errorf("hook with an empty state: %v, want it refused: %s", err, stderr.String())
	}
}

// TestNspawnSideMissing: without hull-nspawn beside it, hull's nspawn,
// convert and nspawn-hook fail naming the path they looked for, before
// doing anything; the runtime's commands work as ever.
func TestNspawnSideMissing(t *testing.T) {
	bin, rootfs := testenv.RequireHull(t, "end-to-end tests")
	dir := t.TempDir()
	lone := filepath.Join(dir, "hull")
	copyExecutable(t, bin, lone)
	want := filepath.Join(dir, "hull-nspawn")
	bundle := filepath.Join(dir, "bundle")
	for _, args := range [][]string{
		{"nspawn", "--help"},
		{"convert", "--bundle", bundle, "-D", rootfs, "--", "/bin/true"},
		{"nspawn-hook", "umount", "/nonexistent"},
	} {
		out, err := exec.Command(lone, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), want) || !strings.Contains(string(out), args[0]+": needs ") {
			t.Errorf("hull %q without hull-nspawn: %v, want a failure naming %s:\n%s", args, err, want, out)
		}
	}
	if _, err := os.Lstat(bundle); !os.IsNotExist(err) {
		t.Errorf("convert without hull-nspawn left %s (%v)", bundle, err)
	}
	if out, err := exec.Command(lone, "--version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "hull version ") {
		t.Errorf("hull --version alone: %v:\n%s", err, out)
	}
}

// copyExecutable copies the program from to the new file to through a
// child process (install), so that no write descriptor of the copy is ever
// open in this test process. With the tests running in parallel, another
// test's fork could inherit such a descriptor and hold it until its child
// execs; an exec of the copy meanwhile fails with ETXTBSY ("text file
// busy", seen in CI: golang/go#22315).
func copyExecutable(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("install", "-m", "0755", "-T", from, to).CombinedOutput(); err != nil {
		t.Fatalf("install %s %s: %v: %s", from, to, err, out)
	}
}

// TestDebugVersionOnce: --debug logs the version line once per command,
// also when hull hands the command over to hull-nspawn (which logs it,
// hull does not), on stderr or in the --log file.
func TestDebugVersionOnce(t *testing.T) {
	bin, _ := testenv.RequireHull(t, "end-to-end tests")
	side := filepath.Join(filepath.Dir(bin), "hull-nspawn")
	dir := t.TempDir()
	root := filepath.Join(dir, "state")
	for _, tc := range []struct {
		bin  string
		args []string
	}{
		{bin, []string{"nspawn", "--help"}},
		{bin, []string{"convert", "-h"}},
		{bin, []string{"nspawn-hook"}}, // fails: no action
		{side, []string{"nspawn", "--help"}},
		{bin, []string{"list"}},
		{bin, []string{"state", "no-such-container"}}, // fails
	} {
		name := filepath.Base(tc.bin) + " " + strings.Join(tc.args, " ")
		var stderr bytes.Buffer
		cmd := exec.Command(tc.bin, append([]string{"--root", root, "--debug"}, tc.args...)...)
		cmd.Stderr = &stderr
		cmd.Run()
		if n := strings.Count(stderr.String(), `level=debug msg="hull version `); n != 1 {
			t.Errorf("%s: %d version lines on stderr, want 1:\n%s", name, n, stderr.String())
		}
		log := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".log")
		args := append([]string{"--root", root, "--debug", "--log", log, "--log-format", "json"}, tc.args...)
		exec.Command(tc.bin, args...).Run()
		data, err := os.ReadFile(log)
		if n := strings.Count(string(data), `"msg":"hull version `); err != nil || n != 1 {
			t.Errorf("%s --log: %d version lines (%v), want 1:\n%s", name, n, err, data)
		}
	}
}
