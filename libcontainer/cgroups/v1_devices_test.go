package cgroups

import (
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func devRuleP(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	return specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Major: &major, Minor: &minor, Access: access}
}

// The container's usual list: deny all, then what it may use.
var usualRules = []specs.LinuxDeviceCgroup{
	{Allow: false, Access: "rwm"},
	devRuleP(true, "c", -1, -1, "m"),
	devRuleP(true, "c", 1, 3, "rwm"),
	devRuleP(true, "c", 136, -1, "rwm"),
}

const usualList = "c *:* m\nc 1:3 rwm\nc 136:* rwm\n"

func TestDeviceTransition(t *testing.T) {
	with := func(extra ...specs.LinuxDeviceCgroup) []specs.LinuxDeviceCgroup {
		return append(append([]specs.LinuxDeviceCgroup{}, usualRules...), extra...)
	}
	for _, tc := range []struct {
		name  string
		list  string // devices.list now
		rules []specs.LinuxDeviceCgroup
		want  []deviceWrite
	}{
		{"new cgroup", "a *:* rwm\n", usualRules, []deviceWrite{
			{"devices.deny", "a"}, {"devices.allow", "c *:* m"}, {"devices.allow", "c 1:3 rwm"}, {"devices.allow", "c 136:* rwm"}}},
		{"rule order kept", "a *:* rwm\n", []specs.LinuxDeviceCgroup{{Allow: false}, devRuleP(true, "c", 10, 229, "rwm"), devRuleP(true, "b", -1, -1, "m")},
			[]deviceWrite{{"devices.deny", "a"}, {"devices.allow", "c 10:229 rwm"}, {"devices.allow", "b *:* m"}}},
		{"no deny-all rule: denied all the same", "a *:* rwm\n", []specs.LinuxDeviceCgroup{devRuleP(true, "c", 1, 3, "rwm")},
			[]deviceWrite{{"devices.deny", "a"}, {"devices.allow", "c 1:3 rwm"}}},
		{"same rules: nothing", usualList, usualRules, nil},
		{"same rules in another order", usualList, []specs.LinuxDeviceCgroup{usualRules[0], usualRules[3], usualRules[2], usualRules[1]}, nil},
		{"add one", usualList, with(devRuleP(true, "c", 1, 11, "rw")), []deviceWrite{{"devices.allow", "c 1:11 rw"}}},
		{"remove one", usualList + "c 1:11 rw\n", usualRules, []deviceWrite{{"devices.deny", "c 1:11 rw"}}},
		{"narrow one", usualList, with(devRuleP(false, "c", 1, 3, "w")), []deviceWrite{{"devices.deny", "c 1:3 w"}}},
		{"widen one", "c 1:3 r\n", []specs.LinuxDeviceCgroup{{Allow: false}, devRuleP(true, "c", 1, 3, "rwm")},
			[]deviceWrite{{"devices.allow", "c 1:3 wm"}}},
		{"to allow-all", usualList, []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}, devRuleP(false, "b", 8, -1, "rwm")},
			[]deviceWrite{{"devices.allow", "a"}, {"devices.deny", "b 8:* rwm"}}},
		{"allow-all again", "a *:* rwm\n", []specs.LinuxDeviceCgroup{{Allow: true}},
			[]deviceWrite{{"devices.allow", "a"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur, err := parseDevicesList(tc.list)
			if err != nil {
				t.Fatal(err)
			}
			want, err := wantedDevState(tc.rules)
			if err != nil {
				t.Fatal(err)
			}
			if got := deviceTransition(cur, want); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("writes:\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestDeviceRulesBad(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	for _, bad := range []specs.LinuxDeviceCgroup{
		{Type: "x"}, {Type: "c", Access: "rwx"}, {Type: "c", Major: n(-2)}, {Type: "c", Access: "rwmr"},
	} {
		_, err := wantedDevState([]specs.LinuxDeviceCgroup{{Allow: false}, bad})
		if err == nil || !strings.Contains(err.Error(), "devices[1]") {
			t.Errorf("rule %+v: err = %v, want one naming devices[1]", bad, err)
		}
	}
	if _, err := parseDevicesList("c 1:x rwm"); err == nil {
		t.Errorf("bad devices.list line accepted")
	}
}

// TestV1DevicesUpdate: on a real cgroup, an update to the same rules plus
// or minus one leaves devices.list exactly as the rules say.
func TestV1DevicesUpdate(t *testing.T) {
	m := newTestV1(t, &specs.LinuxResources{Devices: usualRules})
	dir := m.paths["devices"]
	if got := readCg(t, dir, "devices.list"); got != strings.TrimSpace(usualList) {
		t.Fatalf("after create: %q", got)
	}
	plus := append(append([]specs.LinuxDeviceCgroup{}, usualRules...), devRuleP(true, "c", 1, 11, "rw"))
	for _, step := range []struct {
		rules []specs.LinuxDeviceCgroup
		want  string
	}{
		{plus, strings.TrimSpace(usualList) + "\nc 1:11 rw"},
		{usualRules, strings.TrimSpace(usualList)},
	} {
		if err := m.Set(&specs.LinuxResources{Devices: step.rules}); err != nil {
			t.Fatal(err)
		}
		if got := readCg(t, dir, "devices.list"); got != step.want {
			t.Errorf("devices.list %q, want %q", got, step.want)
		}
	}
	bad := []specs.LinuxDeviceCgroup{{Allow: false}, {Allow: true, Type: "x"}}
	if err := m.Set(&specs.LinuxResources{Devices: bad}); err == nil || !strings.Contains(err.Error(), `type "x"`) {
		t.Errorf("bad rule: %v", err)
	}
	if got := readCg(t, dir, "devices.list"); got != strings.TrimSpace(usualList) {
		t.Errorf("after a failed update: %q", got)
	}
}
