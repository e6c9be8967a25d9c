package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/tests/testenv"
)

// testUser is testenv's User with e2e's result type.
type testUser struct{ *testenv.User }

func newTestUser(t *testing.T, subids bool) *testUser {
	return &testUser{testenv.NewUser(t, subids)}
}

// run runs a command as the user (no supplementary groups), in dir, with
// XDG_RUNTIME_DIR set to its run directory.
func (u *testUser) run(dir string, name string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), hullTimeout)
	defer cancel()
	cmd := u.Command(ctx, dir, name, args...)
	// Files, not pipes: a created container's init keeps its stdio open,
	// and a pipe would keep Run waiting for it.
	out, oerr := os.CreateTemp("", "hull-rootless-out-")
	errf, eerr := os.CreateTemp("", "hull-rootless-err-")
	if oerr != nil || eerr != nil {
		return result{Args: args, Stderr: fmt.Sprint(oerr, eerr), Code: -1}
	}
	defer os.Remove(out.Name())
	defer os.Remove(errf.Name())
	defer out.Close()
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = out, errf
	err := cmd.Run()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	o, _ := os.ReadFile(out.Name())
	e, _ := os.ReadFile(errf.Name())
	return result{Args: append([]string{name}, args...), Stdout: string(o), Stderr: string(e), Code: code}
}

// rootlessBundle makes a bundle the user owns, from `hull spec --rootless`
// run as the user, with a copy of the busybox rootfs, and applies edit.
func (u *testUser) rootlessBundle(t *testing.T, hull, rootfs, name string, edit func(*specs.Spec)) string {
	t.Helper()
	dir := u.Mkdir(t, name, 0o755)
	if out, err := exec.Command("cp", "-a", rootfs, filepath.Join(dir, "rootfs")).CombinedOutput(); err != nil {
		t.Fatalf("copy rootfs: %v: %s", err, out)
	}
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", u.UID, u.GID), filepath.Join(dir, "rootfs")).CombinedOutput(); err != nil {
		t.Fatalf("chown rootfs: %v: %s", err, out)
	}
	if r := u.run(dir, hull, "spec", "--rootless"); r.Code != 0 {
		t.Fatalf("hull spec --rootless as %s: %v", u.Name, r)
	}
	cfg := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(cfg)
	must(t, err)
	var s specs.Spec
	must(t, json.Unmarshal(data, &s))
	s.Process.Terminal = false
	if edit != nil {
		edit(&s)
	}
	data, err = json.MarshalIndent(&s, "", "\t")
	must(t, err)
	must(t, os.WriteFile(cfg, data, 0o644))
	return dir
}

// rootlessRuntime is a runtime invocation as the user: hull with its
// default state root, or runc --rootless true with one under the user's dir.
type rootlessRuntime struct {
	name string
	bin  string
	pre  []string
}

func rootlessRuntimes(t *testing.T, u *testUser, hull string) []rootlessRuntime {
	rts := []rootlessRuntime{{name: "hull", bin: hull}}
	if runc, err := exec.LookPath("runc"); err == nil {
		rts = append(rts, rootlessRuntime{name: "runc", bin: runc, pre: []string{"--rootless", "true", "--root", u.Mkdir(t, "run/runc", 0o700)}})
	} else {
		t.Logf("runc not found: no control run")
	}
	return rts
}

func (rt rootlessRuntime) do(u *testUser, dir string, args ...string) result {
	return u.run(dir, rt.bin, append(append([]string{}, rt.pre...), args...)...)
}

// mustDo runs rt's command as u in dir and fails the test unless it
// exits 0; it returns the command's stdout.
func (rt rootlessRuntime) mustDo(t *testing.T, u *testUser, dir string, args ...string) string {
	t.Helper()
	r := rt.do(u, dir, args...)
	if r.Code != 0 {
		t.Fatalf("%s %v as %s: %v", rt.name, args, u.Name, r)
	}
	return r.Stdout
}

// status is the container's status as rt's `state` reports it.
func (rt rootlessRuntime) status(t *testing.T, u *testUser, dir, id string) string {
	t.Helper()
	var st specs.State
	if err := json.Unmarshal([]byte(rt.mustDo(t, u, dir, "state", id)), &st); err != nil {
		t.Fatalf("%s state: %v", rt.name, err)
	}
	return string(st.Status)
}

// Lifecycle as an unprivileged user, hull and runc side by side: the
// container is root of a user namespace mapping only the user's uid.
func TestRootlessLifecycle(t *testing.T) {
	hull, rootfs := testenv.RequireHull(t, "rootless tests")
	u := newTestUser(t, true)
	bundle := u.rootlessBundle(t, hull, rootfs, "life", func(s *specs.Spec) {
		s.Process.Args = sh("sleep 1000 & exec sleep 1001")
		// A filter, so that the seccomp cache is made (it must be the user's).
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"keyctl"}, Action: specs.ActErrno}}}
	})
	for _, rt := range rootlessRuntimes(t, u, hull) {
		t.Run(rt.name, func(t *testing.T) {
			id := uniqueName(t)
			t.Cleanup(func() { rt.do(u, bundle, "delete", "--force", id) })
			mustOK := func(args ...string) string { t.Helper(); return rt.mustDo(t, u, bundle, args...) }
			status := func() string { t.Helper(); return rt.status(t, u, bundle, id) }
			mustOK("create", id)
			if s := status(); s != "created" {
				t.Fatalf("after create: %s", s)
			}
			mustOK("start", id)
			if s := status(); s != "running" {
				t.Fatalf("after start: %s", s)
			}
			wantContains(t, mustOK("list"), id)
			// runc's ps needs a cgroup, and rootless on cgroup v1 has none:
			// hull lists the container's pid namespace instead.
			if rt.name == "hull" {
				ps := mustOK("ps", id)
				if !strings.Contains(ps, "sleep 1000") || !strings.Contains(ps, "sleep 1001") || strings.Count(ps, "\n") != 3 {
					t.Errorf("ps: %q, want the two sleeps alone", ps)
				}
				// Without a cgroup there is nothing to freeze or limit: refused
				// by name, and the container runs on.
				for _, args := range [][]string{{"pause", id}, {"update", "--pids-limit", "10", id}} {
					if r := rt.do(u, bundle, args...); r.Code == 0 || !strings.Contains(r.Stderr, "delegated cgroup") {
						t.Errorf("%v without a cgroup: %v", args, r)
					}
				}
			} else if r := rt.do(u, bundle, "ps", id); r.Code != 0 {
				t.Logf("control: runc ps fails rootless without a cgroup: %s", strings.TrimSpace(r.Stderr))
			}
			if got := strings.TrimSpace(mustOK("exec", id, "sh", "-c", "id -u; cat /proc/self/uid_map")); !strings.HasPrefix(got, "0\n") ||
				strings.Join(strings.Fields(got), " ") != fmt.Sprintf("0 0 %d 1", u.UID) {
				t.Errorf("exec: %q, want uid 0 mapped to %d alone", got, u.UID)
			}
			mustOK("kill", id, "KILL")
			if !waitUntil(5*time.Second, func() bool { return status() == "stopped" }) {
				t.Fatalf("not stopped after kill")
			}
			mustOK("delete", id)
			if out := mustOK("list"); strings.Contains(out, id) {
				t.Errorf("listed after delete: %q", out)
			}
		})
	}
	// State and seccomp cache are the user's own, 0700, under its runtime dir.
	for _, p := range []string{"run/hull", "run/hull.cache", "run/hull.cache/seccomp"} {
		st, err := os.Stat(filepath.Join(u.Dir, p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		sys := st.Sys().(*syscall.Stat_t)
		if int(sys.Uid) != u.UID || st.Mode().Perm() != 0o700 {
			t.Errorf("%s: owner %d mode %o, want %d 0700", p, sys.Uid, st.Mode().Perm(), u.UID)
		}
	}
	if _, err := os.Stat(filepath.Join("/run/hull", "hull.cache")); err == nil {
		t.Logf("note: /run/hull/hull.cache exists (not made by this test)")
	}
}

// The ranges of /etc/subuid and /etc/subgid are written by newuidmap and
// newgidmap; without ranges, or with ranges the user does not own, create
// fails naming what is missing and leaves nothing behind.
func TestRootlessSubordinateIDs(t *testing.T) {
	hull, rootfs := testenv.RequireHull(t, "rootless tests")
	if _, err := exec.LookPath("newuidmap"); err != nil {
		t.Skipf("newuidmap: %v (tests/deps.sh installs uidmap)", err)
	}
	u := newTestUser(t, true)
	maps := func(start int) func(*specs.Spec) {
		return func(s *specs.Spec) {
			m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(u.UID), Size: 1}, {ContainerID: 1, HostID: uint32(start), Size: 65536}}
			s.Linux.UIDMappings = m
			g := append([]specs.LinuxIDMapping{}, m...)
			g[0].HostID = uint32(u.GID)
			s.Linux.GIDMappings = g
			caps := []string{"CAP_CHOWN"}
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
			s.Process.Args = sh("cat /proc/self/uid_map /proc/self/gid_map; touch /dev/shm/f; chown 1000:1000 /dev/shm/f && stat -c %u:%g /dev/shm/f")
		}
	}
	good := u.rootlessBundle(t, hull, rootfs, "sub", maps(u.SubStart))
	want := fmt.Sprintf("0 %d 1 1 %d 65536 0 %d 1 1 %d 65536 1000:1000", u.UID, u.SubStart, u.GID, u.SubStart)
	for _, rt := range rootlessRuntimes(t, u, hull) {
		id := uniqueName(t)
		r := rt.do(u, good, "run", id)
		rt.do(u, good, "delete", "--force", id)
		if got := strings.Join(strings.Fields(r.Stdout), " "); r.Code != 0 || got != want {
			t.Errorf("%s run with subordinate ids: %v\ngot  %q\nwant %q", rt.name, r, got, want)
		}
	}
	// Ranges the user does not own: newuidmap refuses; hull says where to look.
	bad := u.rootlessBundle(t, hull, rootfs, "bad", maps(u.SubStart+10*65536))
	id := uniqueName(t)
	r := u.run(bad, hull, "run", id)
	if r.Code == 0 || !strings.Contains(r.Stderr, "linux.uidMappings") || !strings.Contains(r.Stderr, "/etc/subuid") {
		t.Errorf("foreign range: %v", r)
	}
	if _, err := os.Stat(filepath.Join(u.Dir, "run/hull", id)); !os.IsNotExist(err) {
		t.Errorf("state left after failed create: %v", err)
	}
	// A user without ranges at all.
	n := newTestUser(t, false)
	nb := n.rootlessBundle(t, hull, rootfs, "none", func(s *specs.Spec) {
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(n.UID), Size: 1}, {ContainerID: 1, HostID: 200000, Size: 10}}
	})
	if r := n.run(nb, hull, "run", id); r.Code == 0 || !strings.Contains(r.Stderr, "newuidmap") || !strings.Contains(r.Stderr, "/etc/subuid") {
		t.Errorf("user without ranges: %v", r)
	}
}

// A rootless container cannot write what its user could not (a root-owned
// file bound in), cannot set limits without a delegated cgroup (cgroup v1
// here), and one user's containers are invisible to another.
func TestRootlessConfinement(t *testing.T) {
	hull, rootfs := testenv.RequireHull(t, "rootless tests")
	u := newTestUser(t, true)
	victim := filepath.Join(u.Mkdir(t, "host", 0o755), "rootfile")
	must(t, os.WriteFile(victim, []byte("root's\n"), 0o644)) // owned by root
	bundle := u.rootlessBundle(t, hull, rootfs, "bind", func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/victim", Type: "bind", Source: victim, Options: []string{"rbind", "rw"}})
		s.Process.Args = sh("echo owned > /victim && echo WROTE; stat -c %u:%g /victim")
	})
	for _, rt := range rootlessRuntimes(t, u, hull) {
		id := uniqueName(t)
		r := rt.do(u, bundle, "run", id)
		rt.do(u, bundle, "delete", "--force", id)
		if strings.Contains(r.Stdout, "WROTE") || !strings.Contains(r.Stdout, "65534:65534") {
			t.Errorf("%s: root-owned bind: %v (want write refused, file shown as nobody)", rt.name, r)
		}
	}
	if data, _ := os.ReadFile(victim); string(data) != "root's\n" {
		t.Fatalf("root-owned host file changed: %q", data)
	}

	limited := u.rootlessBundle(t, hull, rootfs, "limits", func(s *specs.Spec) {
		limit := int64(64 << 20)
		s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
	})
	id := uniqueName(t)
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		t.Logf("cgroup v2 host: the limits refusal is for v1 hosts; skipped")
	} else {
		r := u.run(limited, hull, "run", id)
		if r.Code == 0 || !strings.Contains(r.Stderr, "linux.resources") || !strings.Contains(r.Stderr, "delegated cgroup") {
			t.Errorf("limits without a delegated cgroup: %v", r)
		}
		if _, err := os.Stat(filepath.Join(u.Dir, "run/hull", id)); !os.IsNotExist(err) {
			t.Errorf("state left after refused limits: %v", err)
		}
	}

	// Another user sees none of u's containers, and cannot read its state.
	sleeper := u.rootlessBundle(t, hull, rootfs, "sleeper", func(s *specs.Spec) { s.Process.Args = []string{"sleep", "1000"} })
	id = uniqueName(t)
	if r := u.run(sleeper, hull, "run", "-d", id); r.Code != 0 {
		t.Fatalf("run -d: %v", r)
	}
	t.Cleanup(func() { u.run(sleeper, hull, "delete", "--force", id) })
	other := newTestUser(t, true)
	if r := other.run(other.Dir, hull, "list"); r.Code != 0 || strings.Contains(r.Stdout, id) {
		t.Errorf("other user's list: %v", r)
	}
	uRoot := filepath.Join(u.Dir, "run/hull")
	for _, args := range [][]string{{"--root", uRoot, "state", id}, {"--root", uRoot, "kill", id, "KILL"}, {"--root", uRoot, "list"}} {
		if r := other.run(other.Dir, hull, args...); r.Code == 0 {
			t.Errorf("other user: hull %v succeeded: %v", args, r)
		}
	}
	if r := u.run(sleeper, hull, "state", id); r.Code != 0 || !strings.Contains(r.Stdout, `"running"`) {
		t.Errorf("owner's container after the other user's attempts: %v", r)
	}
}

// `hull spec --rootless` writes runc's rootless default: same mounts, id
// mappings, no network namespace, no resources (hull's default keeps its
// cgroup namespace, as its non-rootless default does).
func TestRootlessSpecMatchesRunc(t *testing.T) {
	hull, _ := testenv.RequireHull(t, "rootless tests")
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Skipf("runc: %v", err)
	}
	u := newTestUser(t, false)
	load := func(bin, sub string) specs.Spec {
		dir := u.Mkdir(t, sub, 0o755)
		if r := u.run(dir, bin, "spec", "--rootless"); r.Code != 0 {
			t.Fatalf("%s spec --rootless: %v", bin, r)
		}
		data, err := os.ReadFile(filepath.Join(dir, "config.json"))
		must(t, err)
		var s specs.Spec
		must(t, json.Unmarshal(data, &s))
		return s
	}
	h, r := load(hull, "h"), load(runc, "r")
	mounts := func(s specs.Spec) string { b, _ := json.Marshal(s.Mounts); return string(b) }
	if mounts(h) != mounts(r) {
		t.Errorf("mounts differ:\nhull %s\nrunc %s", mounts(h), mounts(r))
	}
	for _, s := range []specs.Spec{h, r} {
		if m := s.Linux.UIDMappings; len(m) != 1 || int(m[0].HostID) != u.UID || m[0].Size != 1 {
			t.Errorf("uid mappings %v, want %d alone", m, u.UID)
		}
		if m := s.Linux.GIDMappings; len(m) != 1 || int(m[0].HostID) != u.GID || m[0].Size != 1 {
			t.Errorf("gid mappings %v, want %d alone", m, u.GID)
		}
		if s.Linux.Resources != nil {
			t.Errorf("resources %+v", s.Linux.Resources)
		}
	}
	nsTypes := func(s specs.Spec) (out []string) {
		for _, n := range s.Linux.Namespaces {
			if n.Type != specs.CgroupNamespace {
				out = append(out, string(n.Type))
			}
		}
		return out
	}
	if a, b := strings.Join(nsTypes(h), ","), strings.Join(nsTypes(r), ","); a != b {
		t.Errorf("namespaces (cgroup aside): hull %s, runc %s", a, b)
	}
}

// A hull binary the user can write is not run in place (a container could
// rewrite it through /proc/PID/exe): it runs from a sealed copy, and works.
func TestRootlessUserOwnedBinary(t *testing.T) {
	hull, rootfs := testenv.RequireHull(t, "rootless tests")
	u := newTestUser(t, false)
	own := filepath.Join(u.Dir, "hull")
	copyExecutable(t, hull, own)
	data, err := os.ReadFile(own)
	must(t, err)
	must(t, os.Chown(own, u.UID, u.GID))
	bundle := u.rootlessBundle(t, hull, rootfs, "own", func(s *specs.Spec) {
		s.Process.Args = sh("echo ran-from-copy")
	})
	id := uniqueName(t)
	r := u.run(bundle, own, "run", id)
	u.run(bundle, own, "delete", "--force", id)
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "ran-from-copy" {
		t.Errorf("run from a user-owned hull: %v", r)
	}
	if after, _ := os.ReadFile(own); !bytes.Equal(after, data) {
		t.Errorf("the user's hull binary changed")
	}
}

// Rootless without $XDG_RUNTIME_DIR has no state root of its own: refused
// with the reason, unless --root gives one; --rootless takes runc's values.
func TestRootlessStateRoot(t *testing.T) {
	hull, _ := testenv.RequireHull(t, "rootless tests")
	u := newTestUser(t, false)
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), hullTimeout)
		defer cancel()
		cmd := u.Command(ctx, u.Dir, hull, args...)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("list"); err == nil || !strings.Contains(out, "XDG_RUNTIME_DIR") {
		t.Errorf("list without XDG_RUNTIME_DIR: %v: %s", err, out)
	}
	own := u.Mkdir(t, "state", 0o700)
	if out, err := run("--root", own, "list"); err != nil {
		t.Errorf("list --root %s: %v: %s", own, err, out)
	}
	shared := u.Mkdir(t, "shared", 0o755)
	if out, err := run("--root", shared, "list"); err == nil || !strings.Contains(out, "0700") {
		t.Errorf("list with a state root others can read: %v: %s", err, out)
	}
	if out, err := run("--rootless", "maybe", "--root", own, "list"); err == nil || !strings.Contains(out, "auto, true or false") {
		t.Errorf("--rootless maybe: %v: %s", err, out)
	}
}
