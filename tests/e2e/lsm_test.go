package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// aaEnabled is AppArmor's state on this host, judged as runc and hull do.
func aaEnabled() bool {
	if _, err := os.Stat("/sys/kernel/security/apparmor"); err != nil {
		return false
	}
	data, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && strings.HasPrefix(string(data), "Y")
}

// lsmRuntimes are hull and, as the control, runc when installed: the
// same helper drives both, since runc takes the same command line.
func lsmRuntimes(t *testing.T) []string {
	rts := []string{"hull"}
	if _, err := exec.LookPath("runc"); err == nil {
		rts = append(rts, "runc")
	} else {
		t.Log("runc not installed: no control")
	}
	return rts
}

// newContainerFor is newContainer run by rt ("hull" or "runc").
func newContainerFor(t *testing.T, rt string, edit func(*specs.Spec)) *container {
	c := newContainer(t, edit)
	if rt == "runc" {
		path, err := exec.LookPath("runc")
		if err != nil {
			t.Fatal(err)
		}
		c.bin = path
	}
	return c
}

// TestLSMFieldsWithoutLSM: on a host where AppArmor and SELinux are off,
// a config that asks for a profile or a label cannot get the confinement
// it asks for. runc refuses it (its write of the profile into
// /proc/self/attr/exec fails with EINVAL; its SELinux check refuses the
// process label); hull refuses it the same way, before anything is
// made, with an error naming the field and value; neither leaves anything.
// With AppArmor on, tests/guest checks the confinement itself.
func TestLSMFieldsWithoutLSM(t *testing.T) {
	if aaEnabled() {
		t.Skip("AppArmor is enabled on this host: see tests/guest TestAppArmor")
	}
	t.Parallel()
	cases := []struct {
		name string
		edit func(*specs.Spec)
		want []string // in hull's error
	}{
		{"apparmorProfile", func(s *specs.Spec) { s.Process.ApparmorProfile = "hull-e2e-profile" },
			[]string{`process.apparmorProfile "hull-e2e-profile"`, "AppArmor is not enabled on this host"}},
		{"apparmorProfile-unconfined", func(s *specs.Spec) { s.Process.ApparmorProfile = "unconfined" },
			[]string{`process.apparmorProfile "unconfined"`, "AppArmor is not enabled on this host"}},
		{"selinuxLabel", func(s *specs.Spec) { s.Process.SelinuxLabel = "system_u:system_r:container_t:s0" },
			[]string{`process.selinuxLabel "system_u:system_r:container_t:s0"`, "SELinux is disabled or not supported"}},
	}
	for _, tc := range cases {
		for _, rt := range lsmRuntimes(t) {
			t.Run(tc.name+"/"+rt, func(t *testing.T) {
				t.Parallel()
				c := newContainerFor(t, rt, func(s *specs.Spec) {
					s.Process.Args = []string{"true"}
					tc.edit(s)
				})
				r := c.run()
				if r.Code == 0 {
					t.Fatalf("%s ran a container it cannot confine as asked: %s", rt, r)
				}
				t.Logf("%s refuses: %s", rt, strings.TrimSpace(r.Stderr))
				if rt == "hull" {
					wantContains(t, r.Stderr, tc.want...)
				}
				assertNothingLeft(t, c)
			})
		}
	}
}

// TestMountLabelWithoutSELinux: without SELinux no file carries a label, so
// hull accepts linux.mountLabel and ignores it, as crun does (and as the
// conformance suite's linux_mount_label expects); runc passes it on as a
// context= mount option, which the kernel rejects. Logged, not asserted,
// for runc: this is where hull follows crun.
func TestMountLabelWithoutSELinux(t *testing.T) {
	if _, err := os.Stat("/sys/fs/selinux/enforce"); err == nil {
		t.Skip("SELinux is enabled on this host")
	}
	t.Parallel()
	for _, rt := range lsmRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			t.Parallel()
			c := newContainerFor(t, rt, func(s *specs.Spec) {
				s.Process.Args = []string{"echo", "labelled-run"}
				s.Linux.MountLabel = "system_u:object_r:container_file_t:s0"
			})
			r := c.run()
			t.Logf("%s: exit %d: %s", rt, r.Code, strings.TrimSpace(r.Stdout+r.Stderr))
			if rt == "hull" && (r.Code != 0 || !strings.Contains(r.Stdout, "labelled-run")) {
				t.Errorf("hull refused linux.mountLabel without SELinux: %s", r)
			}
			if r.Code != 0 {
				assertNothingLeft(t, c)
			}
		})
	}
}

// TestExecLSMFlagsWithoutLSM: exec --apparmor and --process-label on such a
// host fail under hull as under runc, and the container keeps running.
func TestExecLSMFlagsWithoutLSM(t *testing.T) {
	if aaEnabled() {
		t.Skip("AppArmor is enabled on this host: see tests/guest TestAppArmor")
	}
	t.Parallel()
	for _, rt := range lsmRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			t.Parallel()
			c := newContainerFor(t, rt, func(s *specs.Spec) { s.Process.Args = []string{"sleep", "30"} })
			c.mustCreate()
			c.mustHull("start", c.ID)
			for _, flag := range []struct{ args, want []string }{
				{[]string{"--apparmor", "hull-e2e-profile"}, []string{`process.apparmorProfile "hull-e2e-profile"`, "AppArmor is not enabled"}},
				{[]string{"--process-label", "system_u:system_r:container_t:s0"}, []string{`process.selinuxLabel "system_u:system_r:container_t:s0"`}},
			} {
				args := append(append([]string{"exec"}, flag.args...), c.ID, "true")
				r := c.hull(args...)
				if r.Code == 0 {
					t.Errorf("%s exec %v succeeded: %s", rt, flag.args, r)
				} else if rt == "hull" {
					wantContains(t, r.Stderr, flag.want...)
				}
				t.Logf("%s exec %v: exit %d: %s", rt, flag.args, r.Code, strings.TrimSpace(r.Stderr))
			}
			c.wantStatus("running")
			if out := c.mustHull("exec", c.ID, "echo", "still-here").Stdout; !strings.Contains(out, "still-here") {
				t.Errorf("exec without the flags: %q", out)
			}
		})
	}
}

// TestFeaturesLSM: `hull features` reports AppArmor as enabled exactly when
// the host runs it (hull then applies profiles), and SELinux as disabled.
func TestFeaturesLSM(t *testing.T) {
	t.Parallel()
	c := newContainer(t, nil)
	var f struct {
		Linux struct {
			Apparmor struct{ Enabled *bool } `json:"apparmor"`
			Selinux  struct{ Enabled *bool } `json:"selinux"`
		} `json:"linux"`
	}
	out := c.mustHull("features").Stdout
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatalf("features JSON: %v\n%s", err, out)
	}
	if a := f.Linux.Apparmor.Enabled; a == nil || *a != aaEnabled() {
		t.Errorf("features linux.apparmor.enabled = %v, want %v (this host)", a, aaEnabled())
	}
	if s := f.Linux.Selinux.Enabled; s == nil || *s {
		t.Errorf("features linux.selinux.enabled = %v, want false", s)
	}
}
