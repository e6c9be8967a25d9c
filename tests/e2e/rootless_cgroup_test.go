package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/tests/testenv"
)

// delegateV1 makes, as root, the cgroup path in every v1 hierarchy (and the
// unified one of a hybrid host) and hands it to the user: the v1 form of
// delegation, a tree whose directory and files the user owns. It is removed,
// with whatever the runtimes left below it, at cleanup.
func delegateV1(t *testing.T, u *testUser, cgroup string) {
	t.Helper()
	hier, _ := filepath.Glob("/sys/fs/cgroup/*/cgroup.procs")
	if len(hier) == 0 {
		t.Skip("no cgroup v1 hierarchy mounted")
	}
	t.Cleanup(func() {
		for _, d := range cgroupDirs(cgroup) {
			removeCgroupTree(d)
		}
		if dirs := cgroupDirs(cgroup); len(dirs) > 0 {
			t.Errorf("delegated cgroup left: %v", dirs)
		}
	})
	for _, procs := range hier {
		root := filepath.Dir(procs)
		dir := filepath.Join(root, cgroup)
		if filepath.Base(root) == "cpuset" {
			must(t, fillCpuset(filepath.Join(root, cgroupParent), dir))
		} else {
			must(t, os.MkdirAll(dir, 0o755))
		}
		if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", u.UID, u.GID), dir).CombinedOutput(); err != nil {
			t.Fatalf("chown %s: %v: %s", dir, err, out)
		}
	}
}

// Rootless pause, resume, update and events on cgroup v1, hull and runc side
// by side: in a v1 tree root delegated to the user they work (the limits,
// the freezer and the stats are the cgroup's); without one, hull refuses
// each, naming the missing delegated cgroup, and the container runs on.
func TestRootlessCgroupV1Delegated(t *testing.T) {
	hull, rootfs := testenv.RequireHull(t, "rootless tests")
	if _, err := os.Stat("/sys/fs/cgroup/freezer/cgroup.procs"); err != nil {
		t.Skipf("no cgroup v1 freezer hierarchy (the cgroup v2 rootless tests run in the guest): %v", err)
	}
	u := newTestUser(t, false)
	deleg := cgroupParent + "/" + uniqueName(t)
	delegateV1(t, u, deleg)
	limit := int64(64 << 20)
	for _, rt := range rootlessRuntimes(t, u, hull) {
		t.Run(rt.name, func(t *testing.T) {
			cg := deleg + "/" + rt.name
			bundle := u.rootlessBundle(t, hull, rootfs, "deleg-"+rt.name, func(s *specs.Spec) {
				s.Process.Args = []string{"sleep", "1000"}
				s.Linux.CgroupsPath = cg
				pids := int64(50)
				s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}, Pids: &specs.LinuxPids{Limit: &pids}}
			})
			id := uniqueName(t)
			t.Cleanup(func() { rt.do(u, bundle, "delete", "--force", id) })
			mustOK := func(args ...string) string { t.Helper(); return rt.mustDo(t, u, bundle, args...) }
			status := func() string { t.Helper(); return rt.status(t, u, bundle, id) }
			mustOK("run", "-d", id)
			v1 := func(ctrl, file string) string { return readTrim(t, filepath.Join("/sys/fs/cgroup", ctrl, cg, file)) }
			if got := v1("memory", "memory.limit_in_bytes"); got != "67108864" {
				t.Errorf("memory.limit_in_bytes %s, want 67108864", got)
			}
			if got := v1("pids", "pids.max"); got != "50" {
				t.Errorf("pids.max %s, want 50", got)
			}
			if procs := v1("freezer", "cgroup.procs"); procs == "" {
				t.Errorf("no process in the delegated freezer cgroup")
			}
			mustOK("pause", id)
			if s, f := status(), v1("freezer", "freezer.state"); s != "paused" || f != "FROZEN" {
				t.Errorf("after pause: status %s, freezer.state %s", s, f)
			}
			mustOK("resume", id)
			if s, f := status(), v1("freezer", "freezer.state"); s != "running" || f != "THAWED" {
				t.Errorf("after resume: status %s, freezer.state %s", s, f)
			}
			mustOK("update", "--pids-limit", "40", "--memory", "96m", id)
			if got := v1("pids", "pids.max"); got != "40" {
				t.Errorf("pids.max after update %s, want 40", got)
			}
			if got := v1("memory", "memory.limit_in_bytes"); got != "100663296" {
				t.Errorf("memory.limit_in_bytes after update %s, want 100663296", got)
			}
			var ev struct {
				Type string `json:"type"`
				Data struct {
					Memory struct {
						Usage struct {
							Limit uint64 `json:"limit"`
						} `json:"usage"`
					} `json:"memory"`
					Pids struct {
						Current uint64 `json:"current"`
					} `json:"pids"`
				} `json:"data"`
			}
			if err := json.Unmarshal([]byte(mustOK("events", "--stats", id)), &ev); err != nil {
				t.Fatalf("events --stats: %v", err)
			}
			if ev.Type != "stats" || ev.Data.Memory.Usage.Limit != 100663296 || ev.Data.Pids.Current < 1 {
				t.Errorf("events --stats: %+v, want the cgroup's limit 100663296 and its pids", ev)
			}
			mustOK("delete", "--force", id)
			if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/freezer", cg)); !os.IsNotExist(err) {
				t.Errorf("%s cgroup after delete: %v", rt.name, err)
			}
		})
	}

	// Without a delegated cgroup the container runs in the caller's; what
	// needs a cgroup is refused by name and changes nothing.
	bundle := u.rootlessBundle(t, hull, rootfs, "nodeleg", func(s *specs.Spec) { s.Process.Args = []string{"sleep", "1000"} })
	for _, rt := range rootlessRuntimes(t, u, hull) {
		id := uniqueName(t)
		if r := rt.do(u, bundle, "run", "-d", id); r.Code != 0 {
			t.Fatalf("%s run -d: %v", rt.name, r)
		}
		for _, args := range [][]string{{"pause", id}, {"update", "--pids-limit", "10", id}, {"events", "--stats", id}} {
			r := rt.do(u, bundle, args...)
			switch {
			case rt.name != "hull":
				t.Logf("control: runc %v without a cgroup: exit %d %s", args, r.Code, lastLine(r.Stderr+r.Stdout))
			case r.Code == 0 || !strings.Contains(r.Stderr, "no delegated cgroup") || !strings.Contains(r.Stderr, args[0]):
				t.Errorf("hull %v without a cgroup: %v, want a refusal naming the missing delegated cgroup", args, r)
			}
		}
		if r := rt.do(u, bundle, "state", id); r.Code != 0 || !strings.Contains(r.Stdout, `"running"`) {
			t.Errorf("%s: after the refusals: %v", rt.name, r)
		}
		rt.do(u, bundle, "delete", "--force", id)
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// A rootless config binds the host's /sys; a cgroup2 mount on the root of
// the host's cgroup2 mount seen there is refused by the kernel (EBUSY: the
// same superblock on the same mount point). This is what every rootless
// container on a cgroup v2 host meets at /sys/fs/cgroup; here the hybrid
// host's /sys/fs/cgroup/unified stands in for it. hull mounts it fresh (its
// cgroup namespace's view) over a tmpfs. runc 1.1.5, the control, fails
// there with the kernel's EBUSY when the config has a cgroup namespace (as
// hull's rootless default does); its own default has none, and it binds.
func TestRootlessCgroup2OverHostMount(t *testing.T) {
	hull, rootfs := testenv.RequireHull(t, "rootless tests")
	if _, err := os.Stat("/sys/fs/cgroup/unified/cgroup.procs"); err != nil {
		t.Skipf("no cgroup2 at /sys/fs/cgroup/unified (on a v2 host the guest's rootless.sh covers it): %v", err)
	}
	u := newTestUser(t, false)
	bundle := u.rootlessBundle(t, hull, rootfs, "cg2", func(s *specs.Spec) {
		var ms []specs.Mount
		for _, m := range s.Mounts {
			if m.Destination != "/sys/fs/cgroup" {
				ms = append(ms, m)
			}
		}
		s.Mounts = append(ms, specs.Mount{Destination: "/sys/fs/cgroup/unified", Type: "cgroup2", Source: "cgroup2", Options: []string{"nosuid", "noexec", "nodev", "ro"}})
		s.Process.Args = sh("test -f /sys/fs/cgroup/unified/cgroup.procs && grep -c ' /sys/fs/cgroup/unified .* cgroup2 ' /proc/self/mountinfo")
	})
	for _, rt := range rootlessRuntimes(t, u, hull) {
		id := uniqueName(t)
		r := rt.do(u, bundle, "run", id)
		rt.do(u, bundle, "delete", "--force", id)
		ok := r.Code == 0 && strings.TrimSpace(r.Stdout) == "2"
		switch {
		case rt.name != "hull":
			t.Logf("control: %s: mounted %v; exit %d %s", rt.name, ok, r.Code, lastLine(r.Stderr))
		case !ok:
			t.Errorf("hull: cgroup2 over the host's cgroup2 mount: %v (want it mounted: 2 cgroup2 mounts there)", r)
		}
	}
}
