package oci

import (
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ToRootless is runc's rootless default (tests/e2e compares it with
// `runc spec --rootless` where runc is installed).
func TestToRootless(t *testing.T) {
	s := DefaultSpec()
	ToRootless(s, 1000, 1001)
	var types []specs.LinuxNamespaceType
	for _, n := range s.Linux.Namespaces {
		types = append(types, n.Type)
	}
	if slices.Contains(types, specs.NetworkNamespace) || types[len(types)-1] != specs.UserNamespace || strings.Count(strings.Join(asStrings(types), " "), "user") != 1 {
		t.Errorf("namespaces %v: want no network, one user namespace last", types)
	}
	if m := s.Linux.UIDMappings; len(m) != 1 || m[0] != (specs.LinuxIDMapping{ContainerID: 0, HostID: 1000, Size: 1}) {
		t.Errorf("uid mappings %v", m)
	}
	if m := s.Linux.GIDMappings; len(m) != 1 || m[0] != (specs.LinuxIDMapping{ContainerID: 0, HostID: 1001, Size: 1}) {
		t.Errorf("gid mappings %v", m)
	}
	if s.Linux.Resources != nil {
		t.Errorf("resources %+v, want none", s.Linux.Resources)
	}
	for _, m := range s.Mounts {
		for _, o := range m.Options {
			if strings.HasPrefix(o, "uid=") || strings.HasPrefix(o, "gid=") {
				t.Errorf("%s keeps %s", m.Destination, o)
			}
		}
		if m.Destination == "/sys" && (m.Type != "none" || m.Source != "/sys" || !slices.Contains(m.Options, "rbind") || !slices.Contains(m.Options, "ro")) {
			t.Errorf("/sys: %+v, want a read-only rbind of the host's", m)
		}
	}
}

func asStrings(ts []specs.LinuxNamespaceType) []string {
	var out []string
	for _, t := range ts {
		out = append(out, string(t))
	}
	return out
}
