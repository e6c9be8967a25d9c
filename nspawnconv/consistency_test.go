package nspawnconv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTemplateBootFindsInit: with --template the root directory does not
// exist yet at conversion; the init is found in the template, as nspawn
// (which copies first) finds it in the copy.
func TestTemplateBootFindsInit(t *testing.T) {
	f := newFixture(t, "tmpl")
	newRoot := filepath.Join(f.base, "machines", "new")
	s := mustCLI(t, "--template="+f.root, "-b", "-D", newRoot)
	c, err := s.ToSpec(f.options())
	if err != nil {
		t.Fatalf("--template -b -D NEW: %v", err)
	}
	if c.Spec.Process.Args[0] != "/usr/lib/systemd/systemd" || c.Spec.Root.Path != newRoot {
		t.Errorf("args %v root %s", c.Spec.Process.Args, c.Spec.Root.Path)
	}
	if len(c.PreSteps) == 0 || c.PreSteps[0].Action != ActionCopyTree || c.PreSteps[0].Source != f.root {
		t.Errorf("pre-steps %+v", c.PreSteps)
	}
	// without a template a missing directory is still an error
	if _, err := mustCLI(t, "-b", "-D", newRoot).ToSpec(f.options()); err == nil {
		t.Error("missing directory accepted without --template")
	}
}

// TestRootIDMapGroup: rootidmap is nspawn 252's make_userns() for
// REMOUNT_IDMAPPING_HOST_OWNER: the one line "OWNER SHIFT 1" is written as
// uid_map and gid_map, so the owner's uid (read as a gid too) maps to root
// and the owning group (2000) stays unmapped ("has no effect").
func TestRootIDMapGroup(t *testing.T) {
	f := newFixture(t, "ridm")
	src := filepath.Join(f.base, "shared")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(src, 1000, 2000); err != nil {
		t.Fatal(err)
	}
	s := mustCLI(t, "-D", f.root, "--private-users=524288:65536", "--bind="+src+":/srv:rootidmap")
	c, err := s.ToSpec(f.options())
	if err != nil {
		t.Fatal(err)
	}
	m := mountByDest(c.Spec, "/srv")
	if len(m.UIDMappings) != 1 || m.UIDMappings[0].ContainerID != 1000 || m.UIDMappings[0].HostID != 524288 ||
		len(m.GIDMappings) != 1 || m.GIDMappings[0].ContainerID != 1000 || m.GIDMappings[0].HostID != 524288 {
		t.Errorf("uid %+v gid %+v", m.UIDMappings, m.GIDMappings)
	}
}

// TestPrivateUsersZeroIsBase: the wiki's --private-users=0
// --private-users-ownership=chown makes a user namespace at base 0.
func TestPrivateUsersZeroIsBase(t *testing.T) {
	f := newFixture(t, "pu0")
	c, err := mustCLI(t, "-D", f.root, "--private-users=0", "--private-users-ownership=chown").ToSpec(f.options())
	if err != nil {
		t.Fatal(err)
	}
	l := c.Spec.Linux
	if len(l.UIDMappings) != 1 || l.UIDMappings[0].HostID != 0 || l.UIDMappings[0].Size != 65536 {
		t.Errorf("uid mappings %+v", l.UIDMappings)
	}
}

// TestResolvConfAuto follows nspawn's auto branch: resolved's static stub
// when resolved listens, else the host's file, else delete the image's.
func TestResolvConfAuto(t *testing.T) {
	cases := []struct {
		name              string
		listening, static bool
		hostFile          bool
		readOnly          bool
		want              string // pre-step key, or mount source, or "" for nothing
	}{
		{"resolved", true, true, true, false, "ResolvConf=copy-static"},
		{"resolved read-only", true, true, true, true, "bind:static"},
		{"resolved without static file", true, false, true, false, "ResolvConf=copy-host"},
		{"no resolved", false, true, true, false, "ResolvConf=copy-host"},
		{"no host file", false, false, false, false, "ResolvConf=delete"},
		{"no host file read-only", false, false, false, true, ""},
	}
	for _, c := range cases {
		f := newFixture(t, "rc")
		o := f.options()
		o.ResolvedListening = func() bool { return c.listening }
		if c.static {
			if err := os.WriteFile(o.StaticResolvConf, []byte("nameserver 127.0.0.53\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if !c.hostFile {
			os.Remove(filepath.Join(f.hostEtc, "resolv.conf"))
		}
		args := []string{"-D", f.root}
		if c.readOnly {
			args = append(args, "--read-only")
		}
		conv, err := mustCLI(t, args...).ToSpec(o)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := ""
		for _, p := range conv.PreSteps {
			if strings.HasPrefix(p.Key, "ResolvConf=") {
				got = p.Key
			}
		}
		if m := mountByDest(conv.Spec, "/etc/resolv.conf"); m != nil {
			got = "bind:" + map[bool]string{true: "static", false: m.Source}[m.Source == o.StaticResolvConf]
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
