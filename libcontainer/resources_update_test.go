package libcontainer

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestUpdateSkipsDevices: an update's device rules are neither written
// nor recorded, as in runc (SkipDevices), and the caller's value is left
// as it was.
func TestUpdateSkipsDevices(t *testing.T) {
	limit := int64(200 << 20)
	deny := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	upd := &specs.LinuxResources{Devices: deny, Memory: &specs.LinuxMemory{Limit: &limit}}
	set := withoutDeviceRules(upd)
	if set.Devices != nil || set.Memory != upd.Memory {
		t.Errorf("written: %s", jsonOf(t, set))
	}
	if len(upd.Devices) != 1 {
		t.Errorf("the update itself was modified: %s", jsonOf(t, upd))
	}
	nvidia := []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Access: "rwm"}}
	saved := mergeResources(&specs.LinuxResources{Devices: nvidia}, set)
	if got, want := jsonOf(t, saved.Devices), jsonOf(t, nvidia); got != want {
		t.Errorf("recorded devices %s, want the container's %s", got, want)
	}
	if r := withoutDeviceRules(&specs.LinuxResources{}); r.Devices != nil {
		t.Errorf("no rules: %s", jsonOf(t, r))
	}
}

// TestUpdateUnlimitedSwap: lifting the memory limit with no swap named
// lifts swap too (runc's v1 compatibility); a swap that is named stays.
func TestUpdateUnlimitedSwap(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name string
		mem  *specs.LinuxMemory
		want string // JSON of the memory written
	}{
		{"limit -1 alone", &specs.LinuxMemory{Limit: i64(-1)}, `{"limit":-1,"swap":-1}`},
		{"limit -1, swap 0", &specs.LinuxMemory{Limit: i64(-1), Swap: i64(0)}, `{"limit":-1,"swap":-1}`},
		{"limit -1, swap -1", &specs.LinuxMemory{Limit: i64(-1), Swap: i64(-1)}, `{"limit":-1,"swap":-1}`},
		{"limit -1, reservation", &specs.LinuxMemory{Limit: i64(-1), Reservation: i64(1)}, `{"limit":-1,"reservation":1,"swap":-1}`},
		{"a limit", &specs.LinuxMemory{Limit: i64(1 << 20)}, `{"limit":1048576}`},
		{"swap alone", &specs.LinuxMemory{Swap: i64(1 << 20)}, `{"swap":1048576}`},
		{"reservation alone", &specs.LinuxMemory{Reservation: i64(1)}, `{"reservation":1}`},
	} {
		upd := &specs.LinuxResources{Memory: tc.mem}
		before := jsonOf(t, upd)
		if got := jsonOf(t, withUnlimitedSwap(upd).Memory); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
		if after := jsonOf(t, upd); after != before {
			t.Errorf("%s: the update itself was modified: %s", tc.name, after)
		}
	}
	if r := withUnlimitedSwap(&specs.LinuxResources{}); r.Memory != nil {
		t.Errorf("no memory: %s", jsonOf(t, r))
	}
}
