package libcontainer

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/cgroups"
	"github.com/hull-runtime/hull/libcontainer/state"
)

// fakeCgroup is a cgroups.Manager that records thaws and reports a
// given State; any other method panics (nil embedded interface).
type fakeCgroup struct {
	cgroups.Manager
	st      cgroups.State
	thawErr error
	thaws   int
}

func (f *fakeCgroup) Thaw() error          { f.thaws++; return f.thawErr }
func (f *fakeCgroup) State() cgroups.State { return f.st }

// TestThawKilled: only SIGKILL to a paused container thaws it (runc's
// rule: on cgroup v1 the frozen init cannot die otherwise); a failed
// thaw is a warning, the signal having gone out.
func TestThawKilled(t *testing.T) {
	for _, tc := range []struct {
		st        specs.ContainerState
		sig       unix.Signal
		thawErr   error
		wantThaws int
		wantWarn  bool
	}{
		{paused, unix.SIGKILL, nil, 1, false},
		{paused, unix.SIGKILL, errors.New("busy"), 1, true},
		{paused, unix.SIGTERM, nil, 0, false},
		{paused, 0, nil, 0, false},
		{running, unix.SIGKILL, nil, 0, false},
		{created, unix.SIGKILL, nil, 0, false},
		{stopped, unix.SIGKILL, nil, 0, false},
	} {
		c := &Container{}
		c.ID = "c1"
		cg := &fakeCgroup{thawErr: tc.thawErr}
		c.thawKilled(cg, tc.st, tc.sig, true)
		if cg.thaws != tc.wantThaws || (len(c.Warnings) > 0) != tc.wantWarn {
			t.Errorf("%v to a %s container: %d thaws, warnings %q; want %d thaws, a warning: %v",
				tc.sig, tc.st, cg.thaws, c.Warnings, tc.wantThaws, tc.wantWarn)
		}
	}
}

// TestCgroupGone: a cgroup is gone when any of its directories is, in any
// driver's record (v1 paths, the v2 and systemd dir).
func TestCgroupGone(t *testing.T) {
	here := t.TempDir()
	gone := filepath.Join(here, "gone")
	for _, tc := range []struct {
		name string
		st   cgroups.State
		want bool
	}{
		{"v1 all there", cgroups.State{Paths: map[string]string{"freezer": here, "pids": here}}, false},
		{"v1 all gone", cgroups.State{Paths: map[string]string{"freezer": gone, "pids": gone}}, true},
		{"v1 freezer gone", cgroups.State{Paths: map[string]string{"freezer": gone, "pids": here}}, true},
		{"v2 there", cgroups.State{Dir: here}, false},
		{"v2 gone", cgroups.State{Dir: gone}, true},
	} {
		if got := cgroupGone(&fakeCgroup{st: tc.st}); got != tc.want {
			t.Errorf("%s: cgroupGone = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSignalAllCgroupGone: kill --all of a stopped container whose cgroup
// directories are gone succeeds, as runc's; with the directories there
// (here plain ones, so the freezer cannot be written) or with the init
// alive, the failure is reported.
func TestSignalAllCgroupGone(t *testing.T) {
	self, err := state.NewProcess(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		init      state.Process
		dirThere  bool
		wantError bool
	}{
		{"stopped, cgroup gone", state.Process{Pid: 1 << 30}, false, false},
		{"stopped, cgroup there", state.Process{Pid: 1 << 30}, true, true},
		{"alive, cgroup gone", self, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "freezer")
			if tc.dirThere {
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			c := loadWithCgroup(t, tc.init, dir)
			defer c.Close()
			err := c.Signal(unix.SIGKILL, true)
			if (err != nil) != tc.wantError {
				t.Errorf("kill --all: %v; want an error: %v", err, tc.wantError)
			}
			if err != nil && !strings.Contains(err.Error(), "freezer.state") {
				t.Errorf("kill --all: the error does not name the cgroup file: %v", err)
			}
		})
	}
}

// loadWithCgroup loads a container whose state records init and a v1
// cgroup with its freezer (and nothing else) in freezerDir.
func loadWithCgroup(t *testing.T, init state.Process, freezerDir string) *Container {
	t.Helper()
	saved := map[string]any{
		"id": "c1", "bundle": "/b", "rootfs": "/b/rootfs", "init": init,
		"cgroup": cgroups.State{Driver: cgroups.DriverV1, Path: "/c1", Paths: map[string]string{"freezer": freezerDir}},
		"spec":   map[string]any{"ociVersion": "1.2.0"},
	}
	data, err := json.Marshal(saved)
	if err != nil {
		t.Fatal(err)
	}
	root := writeState(t, "c1", string(data))
	c, err := Load(root, "c1", false)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
