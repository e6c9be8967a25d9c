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

// aaRuntimes are hull and runc (the control), each with a state root of
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

// aaBundle is guestBundle with /open and /secret planted in the rootfs.
func aaBundle(t *testing.T, id string) string {
	dir := guestBundle(t, "/hull-guest/"+id, "true")
	for _, f := range []string{"open", "secret"} {
		if err := os.WriteFile(filepath.Join(dir, "rootfs", f), []byte(f+"-content\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// setProcess rewrites the bundle's process.apparmorProfile and args; a
// bundle is reused since copying a rootfs is slow under TCG.
func setProcess(t *testing.T, bundle, profile string, args ...string) {
	t.Helper()
	path := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	spec.Process.ApparmorProfile = profile
	spec.Process.Args = args
	if data, err = json.Marshal(&spec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
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

// missingProfile is loaded nowhere.
const missingProfile = "hull-no-such-profile"

// TestAppArmor, under hull and under runc as the control:
//   - a container whose config names a loaded profile runs confined by it:
//     /proc/self/attr/current shows the profile in enforce mode, and the
//     read the profile denies fails while its twin succeeds;
//   - a profile that is not loaded fails create with an error naming the
//     field and value, and leaves no state directory and no cgroup;
//   - an exec'd process gets the container's profile, or the one
//     `exec --apparmor` names ("unconfined" included); an unknown one fails
//     the exec and the container keeps running.
func TestAppArmor(t *testing.T) {
	inGuest(t)
	profile := loadProfile(t)
	for rt, parent := range aaRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			h := *parent
			h.t = t // its must fails this subtest, not the parent
			id := randomName(t, "aa-")
			bundle := aaBundle(t, id)
			t.Cleanup(func() { h.run("delete", "--force", id) })

			setProcess(t, bundle, profile, "sh", "-c", aaProbe)
			out, err := h.run("run", "--bundle", bundle, id)
			if err != nil {
				t.Fatalf("%s run: %v\n%s", rt, err, out)
			}
			wantConfined(t, rt, out, profile) // run deleted the container when it exited

			setProcess(t, bundle, missingProfile, "true")
			out, err = h.run("create", "--bundle", bundle, id)
			if err == nil {
				t.Fatalf("%s create with an unknown profile succeeded:\n%s", rt, out)
			}
			t.Logf("%s, unknown profile: %s", rt, strings.TrimSpace(out))
			if rt == "hull" && (!strings.Contains(out, `process.apparmorProfile "`+missingProfile+`"`) ||
				!strings.Contains(out, "no such AppArmor profile is loaded")) {
				t.Errorf("hull's error does not name the field, value and reason:\n%s", out)
			}
			if _, err := os.Stat(filepath.Join(h.root, id)); !os.IsNotExist(err) {
				t.Errorf("%s left a state dir for %s (%v)", rt, id, err)
			}
			if _, err := os.Stat(filepath.Join(cgroupRoot, "hull-guest", id)); !os.IsNotExist(err) {
				t.Errorf("%s left a cgroup for %s (%v)", rt, id, err)
			}

			setProcess(t, bundle, profile, "sleep", "120")
			if out, err := h.run("run", "-d", "--bundle", bundle, id); err != nil {
				t.Fatalf("%s run -d: %v\n%s", rt, err, out)
			}
			testAppArmorExec(t, rt, &h, id, profile)
		})
	}
}

func testAppArmorExec(t *testing.T, rt string, h *hullCmd, id, profile string) {
	out, err := h.run("exec", id, "sh", "-c", aaProbe)
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

	out, err = h.run("exec", "--apparmor", missingProfile, id, "true")
	if err == nil {
		t.Errorf("%s exec --apparmor %s succeeded:\n%s", rt, missingProfile, out)
	}
	t.Logf("%s exec, unknown profile: %s", rt, strings.TrimSpace(out))
	if rt == "hull" && !strings.Contains(out, `process.apparmorProfile "`+missingProfile+`"`) {
		t.Errorf("hull's exec error does not name the field and value:\n%s", out)
	}
	if out := h.must("state", id); !strings.Contains(out, `"running"`) {
		t.Errorf("%s: container not running after the failed exec:\n%s", rt, out)
	}
}
