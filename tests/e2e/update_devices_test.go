package e2e

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// criUpdate is the resources document containerd 1.6's CRI hands the runc
// shim (`runc update --resources -`) for `crictl update --memory 32m` on a
// container crictl created: the container's whole linux.resources, whose
// device rules are containerd's default spec's lone deny-all, the memory
// limit with swap set equal (the swap controller exists), an empty cpu.
const criUpdate = `{"devices":[{"allow":false,"access":"rwm"}],"memory":{"limit":33554432,"swap":33554432},"cpu":{}}`

// TestUpdateDevices: an update that carries device rules keeps the
// default devices (hull and runc end with the same devices.list, /dev/null
// and friends still work) and a device in linux.devices the rules deny
// stays denied: the update leaves the devices cgroup alone.
func TestUpdateDevices(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/sys/fs/cgroup/devices"); err != nil {
		t.Skip("this test reads cgroup v1 files; /sys/fs/cgroup/devices is missing; the v2 variant runs in the guest")
	}
	lists := map[string]string{}
	for _, c := range withControls(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "1000"}
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
		s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/kmsg", Type: "c", Major: 1, Minor: 11}}
	}) {
		rt := c.runtimeName()
		c.mustCreate()
		c.mustHull("start", c.ID)
		list := filepath.Join("/sys/fs/cgroup/devices", c.Cgroup, "devices.list")
		before := readTrim(t, list)
		if strings.Contains(before, "1:11") {
			t.Errorf("%s: c 1:11 allowed though the rules deny it:\n%s", rt, before)
		}
		doc := filepath.Join(c.tmp, "cri-update.json")
		if err := os.WriteFile(doc, []byte(criUpdate), 0o644); err != nil {
			t.Fatal(err)
		}
		c.mustHull("update", "--resources", doc, c.ID)
		after := readTrim(t, list)
		if after != before || strings.Count(after, "\n") != 10 {
			t.Errorf("%s: devices.list after the CRI update:\n%s\nbefore:\n%s", rt, after, before)
		}
		// As a set: runc writes them sorted, hull in the rules' order
		// (which runtime-tools checks).
		lines := strings.Split(after, "\n")
		sort.Strings(lines)
		lists[rt] = strings.Join(lines, "\n")
		wantCgroupFiles(t, c.Cgroup, []cgroupFile{{"memory", "memory.limit_in_bytes", strconv.Itoa(32 << 20)}})
		r := c.mustHull(append([]string{"exec", c.ID}, sh(
			"echo x >/dev/null && echo null-ok; head -c 3 /dev/zero | wc -c; head -c 3 /dev/urandom | wc -c; "+
				"(: >/dev/kmsg) 2>/dev/null && echo kmsg-writable || echo kmsg-denied")...)...)
		if got := strings.Fields(r.Stdout); strings.Join(got, " ") != "null-ok 3 3 kmsg-denied" {
			t.Errorf("%s: devices in the container after the update: %q", rt, got)
		}
	}
	if len(lists) == 2 && lists["hull"] != lists["runc"] {
		t.Errorf("devices.list differs:\nhull:\n%s\nrunc:\n%s", lists["hull"], lists["runc"])
	}
}

// TestUpdateDevicesTransitions: an update's device rules, whether they
// add a rule, remove one or are not valid rules at all, change nothing in
// the devices cgroup and fail nothing, while the rest of the update
// applies: runc's update skips devices (SkipDevices), and so does hull's
// (it used to apply them, which dropped rules added after create).
func TestUpdateDevicesTransitions(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/sys/fs/cgroup/devices"); err != nil {
		t.Skip("this test reads cgroup v1 files; /sys/fs/cgroup/devices is missing")
	}
	steps := []struct{ doc, limit string }{
		{`{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":11,"access":"rw"}],"memory":{"limit":33554432}}`, "33554432"},
		{`{"devices":[{"allow":false,"access":"rwm"}],"memory":{"limit":25165824}}`, "25165824"},
		{`{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"x","access":"rwm"}],"memory":{"limit":16777216}}`, "16777216"},
	}
	for _, c := range withControls(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "1000"}
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	}) {
		rt := c.runtimeName()
		c.mustCreate()
		c.mustHull("start", c.ID)
		list := filepath.Join("/sys/fs/cgroup/devices", c.Cgroup, "devices.list")
		before := readTrim(t, list)
		path := filepath.Join(c.tmp, "update.json")
		for _, step := range steps {
			if err := os.WriteFile(path, []byte(step.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			if r := c.hull("update", "--resources", path, c.ID); r.Code != 0 {
				t.Errorf("%s: %s", rt, r)
			}
			if got := readTrim(t, list); got != before {
				t.Errorf("%s: devices.list after %s:\n%s\nwant\n%s", rt, step.doc, got, before)
			}
			wantCgroupFiles(t, c.Cgroup, []cgroupFile{{"memory", "memory.limit_in_bytes", step.limit}})
		}
		c.wantStatus("running")
	}
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}
