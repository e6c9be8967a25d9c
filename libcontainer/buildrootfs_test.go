package libcontainer

import (
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/rootfs"
)

func nsSpec(types ...specs.LinuxNamespaceType) *specs.Spec {
	s := &specs.Spec{Linux: &specs.Linux{}}
	for _, t := range types {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t})
	}
	return s
}

// TestParentBuildsRootfs: which configs hull create builds itself.
func TestParentBuildsRootfs(t *testing.T) {
	able := os.Geteuid() == 0 && !runningInUserNS() && rootfs.ProcPidNS()
	idmapped := nsSpec(specs.MountNamespace)
	idmapped.Mounts = []specs.Mount{{Destination: "/data", Type: "bind", Source: "/tmp", Options: []string{"bind", "idmap"}}}
	joined := nsSpec()
	joined.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace, Path: "/proc/1/ns/mnt"}}
	for _, tc := range []struct {
		name string
		spec *specs.Spec
		opts CreateOpts
		want bool
	}{
		{"mount and pid namespace", nsSpec(specs.MountNamespace, specs.PIDNamespace), CreateOpts{}, able},
		{"user namespace", nsSpec(specs.MountNamespace, specs.UserNamespace), CreateOpts{}, false},
		{"no mount namespace", nsSpec(specs.PIDNamespace), CreateOpts{}, false},
		{"mount namespace joined", joined, CreateOpts{}, false},
		{"no-pivot", nsSpec(specs.MountNamespace), CreateOpts{NoPivot: true}, false},
		{"idmapped mount", idmapped, CreateOpts{}, false},
	} {
		if got := parentBuildsRootfs(tc.spec, tc.opts); got != tc.want {
			t.Errorf("%s: parentBuildsRootfs %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestNsFlags: the builder enters every namespace the spec names but the
// user namespace, and always the mount namespace.
func TestNsFlags(t *testing.T) {
	for _, tc := range []struct {
		spec *specs.Spec
		want int
	}{
		{&specs.Spec{}, unix.CLONE_NEWNS},
		{nsSpec(specs.MountNamespace, specs.UserNamespace), unix.CLONE_NEWNS},
		{nsSpec(specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.CgroupNamespace, specs.PIDNamespace, specs.MountNamespace),
			unix.CLONE_NEWNS | unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWPID},
	} {
		if got := nsFlags(tc.spec); got != tc.want {
			t.Errorf("nsFlags(%+v) = %#x, want %#x", tc.spec.Linux, got, tc.want)
		}
	}
}
