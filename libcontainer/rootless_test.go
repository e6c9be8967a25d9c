package libcontainer

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRootlessHelpers(t *testing.T) {
	limit := int64(1 << 20)
	limits := []struct {
		r    *specs.LinuxResources
		want bool
	}{
		{nil, false},
		{&specs.LinuxResources{}, false},
		{&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}, false},
		{&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}, true},
		{&specs.LinuxResources{Unified: map[string]string{"pids.max": "10"}}, true},
	}
	for i, tc := range limits {
		if got := hasLimits(tc.r); got != tc.want {
			t.Errorf("hasLimits #%d = %v, want %v", i, got, tc.want)
		}
	}
	own := []struct {
		m    []specs.LinuxIDMapping
		want bool
	}{
		{[]specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}, true},
		{[]specs.LinuxIDMapping{{ContainerID: 5, HostID: 1000, Size: 1}}, true},
		{[]specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 2}}, false},
		{[]specs.LinuxIDMapping{{ContainerID: 0, HostID: 1001, Size: 1}}, false},
		{[]specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}}, false},
	}
	for i, tc := range own {
		if got := ownIDOnly(tc.m, 1000); got != tc.want {
			t.Errorf("ownIDOnly #%d = %v, want %v", i, got, tc.want)
		}
	}
}
