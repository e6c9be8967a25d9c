package oci

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestDefaultSpecIsValid(t *testing.T) {
	if err := Validate(DefaultSpec()); err != nil {
		t.Fatalf("the spec `hull spec` writes does not validate: %v", err)
	}
}

// TestValidateNamesTheField: every rejection names the field and value.
func TestValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*specs.Spec)
		want []string
	}{
		{"version", func(s *specs.Spec) { s.Version = "2.0.0" }, []string{`ociVersion "2.0.0"`}},
		{"version not semver", func(s *specs.Spec) { s.Version = "x" }, []string{`ociVersion "x"`}},
		{"no root", func(s *specs.Spec) { s.Root = nil }, []string{"root.path"}},
		{"no process", func(s *specs.Spec) { s.Process = nil }, []string{"process"}},
		{"empty args", func(s *specs.Spec) { s.Process.Args = nil }, []string{"process.args"}},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "tmp" }, []string{`process.cwd "tmp"`}},
		{"bad env", func(s *specs.Spec) { s.Process.Env = []string{"NOEQUALS"} }, []string{`process.env[0] "NOEQUALS"`}},
		{"mount type", func(s *specs.Spec) { s.Mounts[0].Type = "nosuchfs" }, []string{`mounts[0].type "nosuchfs"`}},
		{"mount dest", func(s *specs.Spec) { s.Mounts[0].Destination = "proc" }, []string{`mounts[0].destination "proc"`}},
		{"bind without source", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "bind", Options: []string{"rbind"}})
		}, []string{"mounts[7].source"}},
		{"namespace type", func(s *specs.Spec) { s.Linux.Namespaces[0].Type = "bogus" }, []string{`linux.namespaces[0].type "bogus"`}},
		{"namespace twice", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
		}, []string{`linux.namespaces[6].type "pid"`}},
		{"namespace relative path", func(s *specs.Spec) { s.Linux.Namespaces[1].Path = "ns/net" }, []string{`linux.namespaces[1].path "ns/net"`}},
		{"mappings without userns", func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
		}, []string{"linux.uidMappings"}},
		{"hook missing", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/no/such/hook"}}}
		}, []string{`hooks.createRuntime[0].path "/no/such/hook"`}},
		{"hook relative", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "hook"}}}
		}, []string{`hooks.poststop[0].path "hook"`}},
		{"hostname without uts", func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace}}
		}, []string{`hostname "hull"`}},
		{"device type", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "z"}}
		}, []string{`linux.devices[0].type "z"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := DefaultSpec()
			tc.edit(s)
			err := Validate(s)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*specs.Spec)
	}{
		{"older 1.x", func(s *specs.Spec) { s.Version = "1.0.2" }},
		{"fifo device with numbers", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fifo", Type: "p", Major: 8}}
		}},
		{"hostname with a joined uts namespace", func(s *specs.Spec) {
			s.Linux.Namespaces[3] = specs.LinuxNamespace{Type: specs.UTSNamespace, Path: "/proc/1/ns/uts"}
		}},
		// runc's own default spec has ambient capabilities that are not
		// inheritable; runc runs it, so must hull.
		{"ambient without inheritable", func(s *specs.Spec) {
			s.Process.Capabilities.Ambient = s.Process.Capabilities.Bounding
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := DefaultSpec()
			tc.edit(s)
			if err := Validate(s); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func writeBundle(t *testing.T, config string, withRootfs bool) string {
	t.Helper()
	dir := t.TempDir()
	if config != "" {
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if withRootfs {
		if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadBundleErrors(t *testing.T) {
	good, _ := json.Marshal(DefaultSpec())
	for _, tc := range []struct {
		name, config string
		rootfs       bool
		want         string
	}{
		{"missing config", "", true, "config.json: no such file"},
		{"invalid JSON", "{\n\"ociVersion\": \"1.3.0\",\n}", true, "line 3"},
		{"wrong type", `{"ociVersion": 1}`, true, `field "ociVersion"`},
		{"missing rootfs", string(good), false, `root.path "rootfs"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeBundle(t, tc.config, tc.rootfs)
			_, err := LoadBundle(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadBundle: %v, want an error containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not name the bundle's file", err)
			}
		})
	}
}

func TestLoadBundleResolvesPaths(t *testing.T) {
	s := DefaultSpec()
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "data", Type: "bind", Options: []string{"rbind"}})
	data, _ := json.Marshal(s)
	dir := writeBundle(t, string(data), true)
	b, err := LoadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b.Rootfs != filepath.Join(dir, "rootfs") {
		t.Errorf("Rootfs = %s", b.Rootfs)
	}
	if got := b.Spec.Mounts[len(b.Spec.Mounts)-1].Source; got != filepath.Join(dir, "data") {
		t.Errorf("relative bind source resolved to %s, want it under the bundle", got)
	}
	if b.Config != nil {
		t.Error("Bundle.Config kept config.json's bytes, but the spec was changed")
	}
}

// Bundle.Config is config.json's bytes where LoadBundle left the spec as
// they decode it: create saves them rather than encode the spec.
func TestLoadBundleKeepsConfig(t *testing.T) {
	s := DefaultSpec()
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/abs", Type: "bind", Options: []string{"rbind"}})
	data, _ := json.MarshalIndent(s, "", " ")
	dir := writeBundle(t, string(data), true)
	b, err := LoadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(b.Config) != string(data) {
		t.Fatalf("Bundle.Config = %q, want config.json's bytes", b.Config)
	}
	again, err := DecodeSpec(b.Config)
	if err != nil || !reflect.DeepEqual(again, b.Spec) {
		t.Fatalf("Bundle.Config decodes to %+v (%v), not to Bundle.Spec %+v", again, err, b.Spec)
	}
}
