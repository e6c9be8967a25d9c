package nspawnconv

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestRegistrationHooks(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []HookStep // register and unregister only
	}{
		{"default auto", nil, []HookStep{
			{Stage: "createRuntime", Action: "register", Args: []string{"auto", "m", "ID", "ROOT", "", "no"}, Key: "--register=auto"},
			{Stage: "poststop", Action: "unregister", Args: []string{"m"}, Key: "--register=auto"}}},
		{"yes, keep-unit, slice, veth", []string{"--register=yes", "--keep-unit", "-S", "hull-test.slice", "-n"}, []HookStep{
			{Stage: "createRuntime", Action: "register", Args: []string{"yes", "m", "ID", "ROOT", "hull-test.slice", "yes", "ve-m"}, Key: "--register=yes"},
			{Stage: "poststop", Action: "unregister", Args: []string{"m"}, Key: "--register=yes"}}},
		{"properties for the scope", []string{"--property=MemoryMax=300M", "--property=CPUQuota=50%", "--property=TasksMax=infinity",
			"--property=CPUWeight=200", "--property=IOWeight=50", "--property=DeviceAllow=/dev/null r"}, []HookStep{
			{Stage: "createRuntime", Action: "register", Args: []string{"auto", "m", "ID", "ROOT", "", "no",
				"--property=MemoryMax=314572800", "--property=CPUQuotaPerSecUSec=500000", "--property=TasksMax=18446744073709551615",
				"--property=CPUWeight=200", "--property=IOWeight=50", "--property=DeviceAllow=/dev/null r"}, Key: "--register=auto"},
			{Stage: "poststop", Action: "unregister", Args: []string{"m"}, Key: "--register=auto"}}},
		{"no", []string{"--register=no"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "m")
			c, err := mustCLI(t, append([]string{"-D", f.root, "-M", "m"}, tc.args...)...).ToSpec(f.options())
			if err != nil {
				t.Fatal(err)
			}
			var got []HookStep
			for _, h := range c.Hooks {
				if h.Action == "register" || h.Action == "unregister" {
					if h.Action == "register" {
						if h.Args[2] != strings.ReplaceAll(c.UUID, "-", "") || len(h.Args[2]) != 32 || h.Args[3] != f.root {
							t.Errorf("register args %q: uuid %q root %q", h.Args, c.UUID, f.root)
						}
						h.Args[2], h.Args[3] = "ID", "ROOT"
					}
					got = append(got, h)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("hooks\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestLinkJournal: nspawn's --link-journal modes against a host journal
// directory: host binds /var/log/journal/ID from the host (made first),
// guest makes it in the image (owned by the machine's root under -U) and
// links the host path to it, try-* do nothing without a host journal, auto
// binds only an existing host directory.
func TestLinkJournal(t *testing.T) {
	id := strings.ReplaceAll(testUUID, "-", "")
	tests := []struct {
		args      []string
		hostDir   bool // the host journal directory exists
		bind      bool
		steps     []string // pre-step actions for LinkJournal=
		guestUser bool     // the guest directory is the machine root's
	}{
		{[]string{"--link-journal=host"}, true, true, []string{"mkdir"}, false},
		{[]string{"--link-journal=guest"}, true, false, []string{"mkdir", "symlink"}, false},
		{[]string{"--link-journal=try-guest", "--private-users=1048576"}, true, false, []string{"mkdir", "symlink"}, true},
		{[]string{"--link-journal=try-guest"}, false, false, nil, false},
		{[]string{"--link-journal=try-host"}, false, false, nil, false},
		{[]string{"--link-journal=auto"}, true, false, nil, false},
		{[]string{"--link-journal=no"}, true, false, nil, false},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " ")+map[bool]string{true: " with", false: " without"}[tc.hostDir], func(t *testing.T) {
			f := newFixture(t, "m")
			o := f.options()
			if tc.hostDir {
				o.HostJournalDir = filepath.Join(f.base, "journal")
				if err := os.MkdirAll(o.HostJournalDir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			c, err := mustCLI(t, append([]string{"-D", f.root, "-M", "m"}, tc.args...)...).ToSpec(o)
			if err != nil {
				t.Fatal(err)
			}
			m := mountByDest(c.Spec, "/var/log/journal/"+id)
			if (m != nil) != tc.bind || (m != nil && m.Source != filepath.Join(o.HostJournalDir, id)) {
				t.Errorf("journal bind %+v, want present=%v", m, tc.bind)
			}
			var steps []string
			for _, p := range c.PreSteps {
				if strings.HasPrefix(p.Key, "LinkJournal=") {
					steps = append(steps, p.Action)
					if p.Action == ActionMkdir && strings.HasPrefix(p.Path, f.root) && (p.Owner != 0) != tc.guestUser {
						t.Errorf("guest journal dir owner %d, want the machine's root: %v", p.Owner, tc.guestUser)
					}
				}
			}
			if !slices.Equal(steps, tc.steps) {
				t.Errorf("pre-steps %v, want %v", steps, tc.steps)
			}
		})
	}
}

// TestLinkJournalGuestGivenPath: the host's link to a guest journal names
// the directory as given (-D), not the reachable bind hull nspawn runs from
// (the guest showed a link into /run/hull-nspawn/…/rootfs, dangling after
// the run).
func TestLinkJournalGuestGivenPath(t *testing.T) {
	id := strings.ReplaceAll(testUUID, "-", "")
	f := newFixture(t, "m")
	o := f.options()
	o.HostJournalDir = filepath.Join(f.base, "journal")
	if err := os.MkdirAll(o.HostJournalDir, 0o755); err != nil {
		t.Fatal(err)
	}
	o.Rootfs = filepath.Join(f.base, "reachable")
	if err := os.Symlink(f.root, o.Rootfs); err != nil {
		t.Fatal(err)
	}
	c, err := mustCLI(t, "-D", f.root, "-M", "m", "--link-journal=guest").ToSpec(o)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(f.root, "var/log/journal", id)
	for _, p := range c.PreSteps {
		if p.Action == ActionSymlink && p.Key == "LinkJournal=guest" && p.Source != want {
			t.Errorf("journal link to %s, want %s", p.Source, want)
		}
	}
}
