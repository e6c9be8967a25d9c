package libcontainer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/libcontainer/criu"
	"github.com/hull-runtime/hull/libcontainer/rootfs"
	"github.com/hull-runtime/hull/libcontainer/state"
)

// stateHook is a hook that writes the state it gets on stdin to out.
// It writes its working directory to out.cwd.
func stateHook(out string) specs.Hook {
	return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", `cat > "$1"; pwd > "$1.cwd"`, "sh", out}}
}

func failingHook() specs.Hook {
	return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo broken >&2; exit 3"}}
}

// restoringContainer is a container whose restore is about to run criu.
func restoringContainer(t *testing.T) *Container {
	t.Helper()
	d, err := state.Create(t.TempDir(), "r1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return &Container{dir: d, Saved: Saved{ID: "r1", Bundle: t.TempDir()}}
}

func TestPrepareRestoreHooks(t *testing.T) {
	out := t.TempDir()
	for _, tc := range []struct {
		name  string
		hooks *specs.Hooks
		want  bool // an action script and a hooks file
	}{
		{"no hooks", nil, false},
		{"only poststop", &specs.Hooks{Poststop: []specs.Hook{stateHook(out + "/x")}}, false},
		{"createRuntime", &specs.Hooks{CreateRuntime: []specs.Hook{stateHook(out + "/x")}}, true},
		//lint:ignore SA1019 deprecated by the spec, still honoured by runtimes
		{"prestart", &specs.Hooks{Prestart: []specs.Hook{stateHook(out + "/x")}}, true}, //nolint:staticcheck // deprecated
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := restoringContainer(t)
			var r criu.Restore
			spec := &specs.Spec{Hooks: tc.hooks, Annotations: map[string]string{"a": "1"}}
			if err := c.prepareRestoreHooks(&r, spec); err != nil {
				t.Fatal(err)
			}
			_, statErr := os.Stat(c.dir.File(restoreHooksFile))
			if got := r.ActionScript != "" && statErr == nil; got != tc.want {
				t.Fatalf("action script %q, hooks file: %v; want both: %v", r.ActionScript, statErr, tc.want)
			}
			if !tc.want {
				return
			}
			exe, _ := os.Executable()
			if r.ActionScript != exe || len(r.Env) != 1 || r.Env[0] != EnvRestoreHooks+"="+c.dir.File(restoreHooksFile) {
				t.Errorf("action script %q env %q: want this binary and %s naming the file", r.ActionScript, r.Env, EnvRestoreHooks)
			}
			if !strings.Contains(strings.Join(r.Args(), " "), "--action-script "+exe) {
				t.Errorf("criu's arguments %q lack --action-script", r.Args())
			}
		})
	}
}

func TestRunRestoreHooks(t *testing.T) {
	for _, tc := range []struct {
		name      string
		action    string
		pid       string
		failing   bool
		wantErr   string
		wantState bool // both hooks got the state with the pid
	}{
		{"setup-namespaces", "setup-namespaces", "4242", false, "", true},
		{"another step", "post-restore", "4242", false, "", false},
		{"no pid from criu", "setup-namespaces", "", false, "no init pid", false},
		{"a hook fails", "setup-namespaces", "4242", true, "hooks.prestart[0] /bin/sh", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := restoringContainer(t)
			out := t.TempDir()
			pre, created := filepath.Join(out, "prestart"), filepath.Join(out, "createRuntime")
			//lint:ignore SA1019 deprecated by the spec, still honoured by runtimes
			hooks := &specs.Hooks{Prestart: []specs.Hook{stateHook(pre)}, CreateRuntime: []specs.Hook{stateHook(created)}} //nolint:staticcheck // deprecated
			if tc.failing {
				//lint:ignore SA1019 deprecated by the spec, still honoured by runtimes
				hooks.Prestart = []specs.Hook{failingHook()} //nolint:staticcheck // deprecated
			}
			var r criu.Restore
			if err := c.prepareRestoreHooks(&r, &specs.Spec{Hooks: hooks, Annotations: map[string]string{"a": "1"}}); err != nil {
				t.Fatal(err)
			}
			t.Chdir(t.TempDir()) // criu runs its action script in its work directory
			err := RunRestoreHooks(c.dir.File(restoreHooksFile), tc.action, tc.pid)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			began, hookErr := c.restoreHooksOutcome()
			if (hookErr != nil) != (err != nil) || hookErr != nil && hookErr.Error() != err.Error() {
				t.Errorf("recorded failure %v, want the hooks' %v", hookErr, err)
			}
			if wantBegan := tc.action == "setup-namespaces" && tc.pid != ""; began != wantBegan {
				t.Errorf("began %v, want %v", began, wantBegan)
			}
			for _, f := range []string{pre, created} {
				data, rerr := os.ReadFile(f)
				if !tc.wantState {
					if rerr == nil {
						t.Errorf("%s ran: %s", filepath.Base(f), data)
					}
					continue
				}
				var st specs.State
				if rerr != nil || json.Unmarshal(data, &st) != nil {
					t.Fatalf("%s: %v %q", filepath.Base(f), rerr, data)
				}
				if st.Pid != 4242 || st.ID != "r1" || st.Status != specs.StateCreating || st.Bundle != c.Bundle || st.Annotations["a"] != "1" {
					t.Errorf("%s got state %+v", filepath.Base(f), st)
				}
				if cwd, _ := os.ReadFile(f + ".cwd"); strings.TrimSpace(string(cwd)) != c.Bundle {
					t.Errorf("%s ran in %q, want the bundle %s", filepath.Base(f), cwd, c.Bundle)
				}
			}
		})
	}
}

func TestRestoreMountpoints(t *testing.T) {
	bundle, vol := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(bundle, "hosts"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	const rootfsDir = "/bundles/r1/rootfs"
	spec := &specs.Spec{Mounts: []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs"},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts"},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs"},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup"},
		{Destination: "/data/", Type: "bind", Source: vol, Options: []string{"rbind"}},
		{Destination: "/data/inner", Type: "bind", Source: bundle, Options: []string{"rbind"}},
		{Destination: "/data/inner/deep/x", Type: "tmpfs", Source: "tmpfs"},
		{Destination: "/data/hosts", Type: "bind", Source: "hosts", Options: []string{"rbind"}},
		{Destination: "/etc/hosts", Type: "bind", Source: "hosts", Options: []string{"rbind"}},
		{Destination: "/etc/hosts/below-a-file", Type: "tmpfs", Source: "tmpfs"},
		{Destination: "/missing-src", Type: "none", Source: "/nonexistent", Options: []string{"bind"}},
	}}
	got := restoreMountpoints(spec, bundle, rootfsDir)
	want := []rootfs.Mountpoint{
		{Root: rootfsDir, Path: "/proc", Dir: true, Strict: true},
		{Root: rootfsDir, Path: "/dev", Dir: true},
		{Root: rootfsDir, Path: "/sys", Dir: true, Strict: true},
		{Root: rootfsDir, Path: "/data", Dir: true},
		{Root: vol, Path: "/inner", Dir: true},     // nested in the /data bind: in its source
		{Root: bundle, Path: "/deep/x", Dir: true}, // nested in /data/inner, the deepest
		{Root: vol, Path: "/hosts", Dir: false},    // a file bind nested in a bind
		{Root: rootfsDir, Path: "/etc/hosts", Dir: false},
		{Root: rootfsDir, Path: "/missing-src", Dir: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("mount points\n got %+v\nwant %+v", got, want)
	}
}
