package rootfs

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRevealingMounts(t *testing.T) {
	mounts := []mountEntry{
		{root: "/", mountpoint: "/proc", fstype: "proc"},
		{root: "/", mountpoint: "/sys", fstype: "sysfs"},
		{root: "/", mountpoint: "/sys/fs/cgroup", fstype: "tmpfs"},
		{root: "/sys", mountpoint: "/mnt/procsys", fstype: "proc"}, // not full
		{root: "/", mountpoint: "/b/rootfs/proc", fstype: "proc"},  // the container's
		{root: "/", mountpoint: "/b/rootfs/sys", fstype: "sysfs"},
		{root: "/", mountpoint: "/b/rootfs2/proc", fstype: "proc"}, // a sibling, not inside
		{root: "/", mountpoint: "/b/rootfs", fstype: "proc"},
	}
	tests := []struct {
		rootfs string
		want   []string
	}{
		{"/b/rootfs", []string{"/proc", "/sys", "/b/rootfs2/proc"}},
		{"/b/rootfs/", []string{"/proc", "/sys", "/b/rootfs2/proc"}},
		{"/elsewhere", []string{"/proc", "/sys", "/b/rootfs/proc", "/b/rootfs/sys", "/b/rootfs2/proc", "/b/rootfs"}},
	}
	for _, tc := range tests {
		if got := revealingMounts(mounts, tc.rootfs); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("revealingMounts(%q) = %q, want %q", tc.rootfs, got, tc.want)
		}
	}
}

func TestReadonlyDev(t *testing.T) {
	tmpfs := func(opts ...string) specs.Mount {
		return specs.Mount{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: opts}
	}
	tests := []struct {
		name   string
		mounts []specs.Mount
		want   bool
	}{
		{"no /dev mount", []specs.Mount{{Destination: "/proc", Type: "proc", Options: []string{"ro"}}}, false},
		{"rw tmpfs", []specs.Mount{tmpfs("nosuid", "mode=755")}, false},
		{"ro tmpfs", []specs.Mount{tmpfs("nosuid", "mode=755", "ro")}, true},
		{"ro then rw", []specs.Mount{tmpfs("ro", "rw")}, false},
		{"ro as /dev/ (cleaned)", []specs.Mount{{Destination: "/dev/", Type: "tmpfs", Options: []string{"ro"}}}, true},
		{"ro bind: already read-only when bound", []specs.Mount{{Destination: "/dev", Type: "bind", Source: "/dev", Options: []string{"rbind", "ro"}}}, false},
		{"a later rw mount wins", []specs.Mount{tmpfs("ro"), tmpfs("rw")}, false},
		{"ro /dev/shm is not /dev", []specs.Mount{{Destination: "/dev/shm", Type: "tmpfs", Options: []string{"ro"}}}, false},
	}
	for _, tc := range tests {
		if got := readonlyDev(tc.mounts); got != tc.want {
			t.Errorf("%s: readonlyDev = %v, want %v", tc.name, got, tc.want)
		}
	}
}
