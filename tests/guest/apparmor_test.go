package guest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// aaProfile is the test profile: everything allowed but reading /secret,
// so confinement shows as one "Permission denied" on a file root may read.
// attach_disconnected: paths of the container's mounts are resolved
// against its own root, not the host's.
const aaProfile = `profile %s flags=(attach_disconnected,mediate_deleted) {
  file,
  capability,
  network,
  signal,
  ptrace,
  unix,
  mount,
  umount,
  pivot_root,
  deny /secret r,
}
`

// aaProbe prints the process's confinement, then tries /open and /secret
// (same owner and mode) and says which it could read.
const aaProbe = `cat /proc/self/attr/current; cat /open && echo OPEN-READ; cat /secret && echo SECRET-READ; true`

// loadProfile loads a fresh test profile into the guest's kernel with
// apparmor_parser and unloads it when the test ends.
func loadProfile(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	if err != nil || !strings.HasPrefix(string(data), "Y") {
		t.Fatalf("AppArmor is not enabled in the guest (enabled=%q, %v): the guest kernel should enable it by default", data, err)
	}
	parser, err := exec.LookPath("apparmor_parser")
	if err != nil {
		t.Fatalf("apparmor_parser missing (the guest image installs the apparmor package): %v", err)
	}
	name := randomName(t, "hull-test-deny-")
	file := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(file, []byte(strings.Replace(aaProfile, "%s", name, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(parser, "-r", file).CombinedOutput(); err != nil {
		t.Fatalf("apparmor_parser -r: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(parser, "-R", file).CombinedOutput(); err != nil {
			t.Errorf("apparmor_parser -R: %v\n%s", err, out)
		}
	})
	return name
}

// runtimes are hull and runc (the control), each with a state root of
// the test's own.
func aaRuntimes(t *testing.T) map[string]*hullCmd {
	h := newHull(t, false)
	rts := map[string]*hullCmd{"hull": h}
	if runc, err := exec.LookPath("runc"); err == nil {
		rts["runc"] = &hullCmd{t: t, bin: runc, root: t.TempDir()}
	} else {
		t.Errorf("runc missing in the guest image: no control")
	}
	return rts
}

// aaBundle is guestBundle with /open and /secret planted in the rootfs and
// process.apparmorProfile set to profile.
func aaBundle(t *testing.T, id, profile string, args ...string) string {
	dir := guestBundle(t, "/hull-guest/"+id, args...)
	for _, f := range []string{"open", "secret"} {
		if err := os.WriteFile(filepath.Join(dir, "rootfs", f), []byte(f+"-content\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	spec.Process.ApparmorProfile = profile
	if data, err = json.Marshal(&spec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// wantConfined checks aaProbe's output: the process runs in profile, reads
// /open and is denied /secret.
func wantConfined(t *testing.T, who, out, profile string) {
	t.Helper()
	for _, want := range []string{profile + " (enforce)", "OPEN-READ", "Permission denied"} {
		if !strings.Contains(out, want) {
			t.Errorf("%s: output lacks %q:\n%s", who, want, out)
		}
	}
	if strings.Contains(out, "SECRET-READ") {
		t.Errorf("%s: /secret was readable under %s:\n%s", who, profile, out)
	}
}

// TestAppArmor: a container whose config names a loaded profile runs
// confined by it under hull as under runc: /proc/self/attr/current shows
// the profile in enforce mode and the read the profile denies fails.
// A profile that is not loaded fails create with an error naming the
// field and value, and leaves no state and no cgroup.
func TestAppArmor(t *testing.T) {
	inGuest(t)
	profile := loadProfile(t)
	for rt, h := range aaRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			id := randomName(t, "aa-")
			bundle := aaBundle(t, id, profile, "sh", "-c", aaProbe)
			out, err := h.run("run", "--bundle", bundle, id)
			t.Cleanup(func() { h.run("delete", "--force", id) })
			if err != nil {
				t.Fatalf("%s run: %v\n%s", rt, err, out)
			}
			wantConfined(t, rt, out, profile)

			bad := randomName(t, "aa-bad-")
			missing := "hull-no-such-profile"
			out, err = h.run("create", "--bundle", aaBundle(t, bad, missing, "true"), bad)
			if err == nil {
				h.run("delete", "--force", bad)
				t.Fatalf("%s create with an unknown profile succeeded:\n%s", rt, out)
			}
			t.Logf("%s, unknown profile: %s", rt, strings.TrimSpace(out))
			if rt == "hull" && (!strings.Contains(out, `process.apparmorProfile "`+missing+`"`) ||
				!strings.Contains(out, "no such AppArmor profile is loaded")) {
				t.Errorf("hull's error does not name the field, value and reason:\n%s", out)
			}
			if _, err := os.Stat(filepath.Join(h.root, bad)); !os.IsNotExist(err) {
				t.Errorf("%s left a state dir for %s (%v)", rt, bad, err)
			}
			if _, err := os.Stat(filepath.Join(cgroupRoot, "hull-guest", bad)); !os.IsNotExist(err) {
				t.Errorf("%s left a cgroup for %s (%v)", rt, bad, err)
			}
		})
	}
}

// TestAppArmorExec: an exec'd process gets the container's profile, or
// the one `exec --apparmor` names ("unconfined" included); an unknown one
// fails the exec with a clear error and the container keeps running.
func TestAppArmorExec(t *testing.T) {
	inGuest(t)
	profile := loadProfile(t)
	for rt, h := range aaRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			id := randomName(t, "aa-exec-")
			bundle := aaBundle(t, id, profile, "sleep", "120")
			out, err := h.run("run", "-d", "--bundle", bundle, id)
			t.Cleanup(func() { h.run("delete", "--force", id) })
			if err != nil {
				t.Fatalf("%s run -d: %v\n%s", rt, err, out)
			}
			out, err = h.run("exec", id, "sh", "-c", aaProbe)
			if err != nil {
				t.Fatalf("%s exec: %v\n%s", rt, err, out)
			}
			wantConfined(t, rt+" exec (the container's profile)", out, profile)

			out, err = h.run("exec", "--apparmor", "unconfined", id, "sh", "-c", aaProbe)
			if err != nil {
				t.Fatalf("%s exec --apparmor unconfined: %v\n%s", rt, err, out)
			}
			if !strings.HasPrefix(out, "unconfined") || !strings.Contains(out, "SECRET-READ") {
				t.Errorf("%s exec --apparmor unconfined: want unconfined and /secret readable:\n%s", rt, out)
			}

			missing := "hull-no-such-profile"
			out, err = h.run("exec", "--apparmor", missing, id, "true")
			if err == nil {
				t.Errorf("%s exec --apparmor %s succeeded:\n%s", rt, missing, out)
			}
			t.Logf("%s exec, unknown profile: %s", rt, strings.TrimSpace(out))
			if rt == "hull" && !strings.Contains(out, `process.apparmorProfile "`+missing+`"`) {
				t.Errorf("hull's exec error does not name the field and value:\n%s", out)
			}
			if out := h.must("state", id); !strings.Contains(out, `"running"`) {
				t.Errorf("%s: container not running after the failed exec:\n%s", rt, out)
			}
		})
	}
}
