package rootfs

import (
	"reflect"
	"testing"
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
