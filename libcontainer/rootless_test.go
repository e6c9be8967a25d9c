package libcontainer

import (
	"reflect"
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

// Rootless, the device rules are dropped (the devices controller needs
// host root) and every other limit stays.
func TestWithoutDeviceRules(t *testing.T) {
	limit := int64(1 << 20)
	deny := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	tests := []struct {
		name string
		in   *specs.LinuxResources
		want *specs.LinuxResources
	}{
		{"nil", nil, nil},
		{"devices only", &specs.LinuxResources{Devices: deny}, &specs.LinuxResources{}},
		{"limits kept", &specs.LinuxResources{Devices: deny, Memory: &specs.LinuxMemory{Limit: &limit}},
			&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}},
	}
	for _, tc := range tests {
		if got := withoutDeviceRules(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
	if in := (&specs.LinuxResources{Devices: deny}); withoutDeviceRules(in) == in || len(in.Devices) != 1 {
		t.Errorf("the input was changed")
	}
}
