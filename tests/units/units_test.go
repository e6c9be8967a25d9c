// Package units checks the unit files hull installs: `make install` puts
// hull-nspawn@.service where systemd finds it, with systemd-nspawn@.service's
// semantics, and the machinectl drop-in replaces nspawn's ExecStart=.
package units

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}

// settings reads a unit file's Key=Value lines (every value of a key).
func settings(t *testing.T, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			out[k] = append(out[k], v)
		}
	}
	return out
}

// TestMakeInstall installs into a DESTDIR and checks what systemd would
// read: the binaries, and the template with @bindir@ replaced.
func TestMakeInstall(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	hull := os.Getenv("HULL_BINARY")
	if hull == "" {
		t.Skip("HULL_BINARY not set (make test sets it)")
	}
	dest := t.TempDir()
	// HULL=, STUBINIT=, STAGE= and NSPAWN= point make at the built binaries,
	// so the test does not rebuild what other tests are running.
	dir := filepath.Dir(hull)
	stub, stage, nspawn := filepath.Join(dir, "hull-stubinit"), filepath.Join(dir, "hull-stage"), filepath.Join(dir, "hull-nspawn")
	cmd := exec.Command("make", "-s", "-o", hull, "-o", stub, "-o", stage, "-o", nspawn,
		"install", "install-machinectl", "DESTDIR="+dest, "PREFIX=/usr", "SYSCONFUNITDIR=/etc/systemd/system",
		"HULL="+hull, "STUBINIT="+stub, "STAGE="+stage, "NSPAWN="+nspawn)
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	for _, f := range []string{"usr/bin/hull", "usr/bin/hull-nspawn", "usr/bin/hull-stubinit", "usr/bin/hull-stage"} {
		if st, err := os.Stat(filepath.Join(dest, f)); err != nil || st.Mode().Perm() != 0o755 {
			t.Errorf("%s: %v %v", f, st, err)
		}
	}
	unit := settings(t, filepath.Join(dest, "usr/lib/systemd/system/hull-nspawn@.service"))
	want := map[string]string{
		"ExecStart":              "/usr/bin/hull-nspawn nspawn --quiet --keep-unit --boot --link-journal=try-guest --network-veth -U --settings=override --machine=%i",
		"Type":                   "notify",
		"KillMode":               "mixed",
		"Delegate":               "yes",
		"Slice":                  "machine.slice",
		"RestartForceExitStatus": "133",
		"SuccessExitStatus":      "133",
		"TasksMax":               "16384",
		"DevicePolicy":           "closed",
		"WantedBy":               "machines.target",
	}
	for k, v := range want {
		if !slices.Equal(unit[k], []string{v}) {
			t.Errorf("hull-nspawn@.service %s=%q, want %q", k, unit[k], v)
		}
	}
	for _, d := range []string{"/dev/net/tun rwm", "char-pts rw"} {
		if !slices.Contains(unit["DeviceAllow"], d) {
			t.Errorf("hull-nspawn@.service lacks DeviceAllow=%s", d)
		}
	}
	dropin := settings(t, filepath.Join(dest, "etc/systemd/system/systemd-nspawn@.service.d/hull.conf"))
	if !slices.Equal(dropin["ExecStart"], []string{"", want["ExecStart"]}) {
		t.Errorf("drop-in ExecStart= %q: want it reset, then hull-nspawn", dropin["ExecStart"])
	}
	for _, line := range append(unit["ExecStart"], dropin["ExecStart"]...) {
		if line != "" {
			checkExecStart(t, dest, line)
		}
	}
}

// checkExecStart: the program the units start is the one make install put
// there, and it runs their command itself (hull-nspawn's nspawn, not
// hull's hand-over to it: one program start, not two).
func checkExecStart(t *testing.T, dest, line string) {
	t.Helper()
	args := strings.Fields(line)
	prog := filepath.Join(dest, args[0])
	if filepath.Base(prog) != "hull-nspawn" {
		t.Errorf("ExecStart=%s: starts %s, want hull-nspawn (hull would only exec it)", line, args[0])
	}
	out, err := exec.Command(prog, args[1], "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "systemd-nspawn flags hull supports") {
		t.Errorf("%s %s --help: %v\n%s", prog, args[1], err, out)
	}
}
