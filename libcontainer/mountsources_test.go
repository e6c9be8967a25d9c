package libcontainer

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestNeedsMountSources(t *testing.T) {
	bind := specs.Mount{Destination: "/d", Type: "bind", Source: "/s", Options: []string{"rbind"}}
	tmpfs := specs.Mount{Destination: "/t", Type: "tmpfs", Source: "tmpfs"}
	idmap := specs.Mount{Destination: "/i", Type: "bind", Source: "/s", Options: []string{"bind", "ridmap"}}
	mapped := specs.Mount{Destination: "/i", Type: "bind", Source: "/s", UIDMappings: []specs.LinuxIDMapping{{Size: 1}}}
	ns := func(types ...specs.LinuxNamespaceType) []specs.LinuxNamespace {
		var out []specs.LinuxNamespace
		for _, t := range types {
			out = append(out, specs.LinuxNamespace{Type: t})
		}
		return out
	}
	tests := []struct {
		name   string
		ns     []specs.LinuxNamespace
		mounts []specs.Mount
		want   bool
	}{
		{"user and mount namespaces, a bind", ns(specs.UserNamespace, specs.MountNamespace), []specs.Mount{tmpfs, bind}, true},
		{"no bind", ns(specs.UserNamespace, specs.MountNamespace), []specs.Mount{tmpfs}, false},
		{"no user namespace: the init is the host's root", ns(specs.MountNamespace), []specs.Mount{bind}, false},
		{"joined user namespace", []specs.LinuxNamespace{{Type: specs.UserNamespace, Path: "/proc/1/ns/user"}, {Type: specs.MountNamespace}}, []specs.Mount{bind}, false},
		{"no mount namespace: no mounts are made", ns(specs.UserNamespace), []specs.Mount{bind}, false},
		{"an idmap mount: the parent maps it", ns(specs.MountNamespace), []specs.Mount{tmpfs, idmap}, true},
		{"an idmap mount with mappings of its own", ns(specs.MountNamespace), []specs.Mount{mapped}, true},
		{"an idmap mount, no mount namespace", nil, []specs.Mount{idmap}, false},
	}
	for _, tc := range tests {
		spec := &specs.Spec{Linux: &specs.Linux{Namespaces: tc.ns}, Mounts: tc.mounts}
		if got := needsMountSources(spec); got != tc.want {
			t.Errorf("%s: needsMountSources = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestWithMountSources(t *testing.T) {
	mounts := []specs.Mount{{Source: "/a"}, {Source: "/b"}, {Source: "/c"}}
	got := withMountSources(mounts, map[int]int{1: 7, 5: 9})
	want := []specs.Mount{{Source: "/a"}, {Source: "/proc/self/fd/7"}, {Source: "/c"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("withMountSources = %+v, want %+v", got, want)
	}
	if mounts[1].Source != "/b" {
		t.Errorf("the spec's mounts were changed: %+v", mounts)
	}
}
