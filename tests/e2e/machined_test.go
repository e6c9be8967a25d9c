package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/hooks/machined"
	"github.com/hull-runtime/hull/nspawnconv"
	"github.com/hull-runtime/hull/tests/testenv"
)

// TestNspawnHelp: --help lists every flag of the key table (supported and
// refused apart), and exits 0 instead of failing for want of a directory.
func TestNspawnHelp(t *testing.T) {
	bin, _ := testenv.RequireHull(t, "end-to-end tests")
	for _, cmd := range []string{"nspawn", "convert"} {
		out, err := exec.Command(bin, cmd, "--help").CombinedOutput()
		if err != nil {
			t.Fatalf("hull %s --help: %v\n%s", cmd, err, out)
		}
		help := string(out)
		supported, refused, _ := strings.Cut(help, "\nRefused")
		for _, k := range nspawnconv.Keys() {
			for _, f := range k.Flags {
				in := supported
				if k.Kind == nspawnconv.KindRefused {
					in = refused
				}
				if !strings.Contains(in, f) {
					t.Errorf("hull %s --help: flag %s (%s) missing from its part", cmd, f, k.Kind)
				}
			}
		}
		if !strings.HasPrefix(help, "Usage: hull "+cmd) {
			t.Errorf("hull %s --help starts %q", cmd, help[:min(len(help), 40)])
		}
	}
}

// TestMachineLookup: -M NAME without -D finds NAME in /var/lib/machines, as
// nspawn does; an unknown name fails naming the search path, leaving no
// bundle.
func TestMachineLookup(t *testing.T) {
	bin, rootfs := testenv.RequireHull(t, "end-to-end tests")
	name := uniqueName(t)
	if _, err := os.Stat("/var/lib/machines"); os.IsNotExist(err) {
		if err := os.Mkdir("/var/lib/machines", 0o700); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove("/var/lib/machines") })
	}
	link := filepath.Join("/var/lib/machines", name)
	if err := os.Symlink(rootfs, link); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(link) })
	bundle := filepath.Join(t.TempDir(), "b")
	out, err := exec.Command(bin, "convert", "-M", name, "--bundle", bundle, "--", "/bin/true").CombinedOutput()
	if err != nil {
		t.Fatalf("hull convert -M %s: %v\n%s", name, err, out)
	}
	if spec := readSpec(t, bundle); spec.Root.Path != link {
		t.Errorf("root.path %q, want %q", spec.Root.Path, link)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	out, err = exec.Command(bin, "convert", "-M", name+"-none", "--bundle", missing).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "/var/lib/machines") {
		t.Errorf("unknown machine: %v, want an error naming the search path:\n%s", err, out)
	}
	if _, err := os.Lstat(missing); !os.IsNotExist(err) {
		t.Errorf("bundle left for an unknown machine (%v)", err)
	}
}

// TestRegisterModes: without systemd-machined (this host has no system
// bus) the default (auto) runs the machine unregistered, --register=no
// adds no hook, and --register=yes fails the start with a clear error and
// leaves nothing behind.
func TestRegisterModes(t *testing.T) {
	bin, rootfs := testenv.RequireHull(t, "end-to-end tests")
	if machined.Reachable() {
		t.Skip("systemd-machined is reachable here: the guest tests cover registration")
	}
	for _, tc := range []struct {
		mode     string
		hook     bool
		wantFail string
	}{
		{"", true, ""},
		{"--register=no", false, ""},
		{"--register=yes", true, "--register=yes: systemd-machined is not reachable"},
	} {
		t.Run("mode"+tc.mode, func(t *testing.T) {
			name := uniqueName(t)
			args := []string{"nspawn", "-D", rootfs, "-M", name, "--cgroups-path", "/" + name}
			if tc.mode != "" {
				args = append(args, tc.mode)
			}
			bundle := filepath.Join(t.TempDir(), "b")
			cargs := append([]string{"convert", "--bundle", bundle}, args[1:]...)
			if out, err := exec.Command(bin, append(cargs, "--", "/bin/true")...).CombinedOutput(); err != nil {
				t.Fatalf("convert: %v\n%s", err, out)
			}
			if got := hasHook(readSpec(t, bundle), "register"); got != tc.hook {
				t.Errorf("register hook present: %v, want %v", got, tc.hook)
			}
			out, err := exec.Command(bin, append(args, "--", "/bin/echo", "ran")...).CombinedOutput()
			switch {
			case tc.wantFail == "" && (err != nil || !strings.Contains(string(out), "ran")):
				t.Errorf("hull %v: %v\n%s", args, err, out)
			case tc.wantFail != "" && (err == nil || !strings.Contains(string(out), tc.wantFail)):
				t.Errorf("hull %v: %v, want failure %q\n%s", args, err, tc.wantFail, out)
			}
			if st, err := exec.Command(bin, "state", name).CombinedOutput(); err == nil {
				t.Errorf("container %s left: %s", name, st)
			}
			for _, d := range cgroupDirs("/" + name) {
				t.Errorf("cgroup left: %s", d)
			}
		})
	}
}

func readSpec(t *testing.T, bundle string) *specs.Spec {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func hasHook(s *specs.Spec, action string) bool {
	if s.Hooks == nil {
		return false
	}
	for _, h := range s.Hooks.CreateRuntime {
		if len(h.Args) > 2 && h.Args[2] == action {
			return true
		}
	}
	return false
}
