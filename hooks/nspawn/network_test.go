package nspawn

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestStableMAC(t *testing.T) {
	a, b := stableMAC("web", "host0"), stableMAC("web", "host0")
	if a.String() != b.String() {
		t.Errorf("not stable: %s %s", a, b)
	}
	for _, in := range [][2]string{{"web", "host0"}, {"web", "ve-web@host"}, {"db", "host0"}, {"", ""}, {"long-machine-name", "mv-eth0#3"}} {
		mac := stableMAC(in[0], in[1])
		if len(mac) != 6 || mac[0]&0x01 != 0 || mac[0]&0x02 == 0 {
			t.Errorf("%s: want a locally administered unicast address", mac)
		}
	}
	if stableMAC("db", "host0").String() == a.String() {
		t.Error("two machines got one address")
	}
}

// TestLinkActionArguments: wrong arguments and a missing pid fail with the
// action named, before any link is touched.
func TestLinkActionArguments(t *testing.T) {
	st := &specs.State{ID: "c", Pid: 1}
	cases := []struct {
		action string
		args   []string
		state  *specs.State
		want   string
	}{
		{ActionAddVeth, []string{"m", "ve-m"}, st, "wrong arguments"},
		{ActionAddVeth, []string{"m", "ve-m", "host0"}, nil, "no id or pid"},
		{ActionRemoveLink, []string{"ve-m"}, &specs.State{Pid: 1}, "no id or pid"},
		{ActionRemoveLink, []string{"ve-m", "x"}, &specs.State{ID: "c"}, "wrong arguments"}, // no pid: fine for removal
		{ActionAddMacvlan, []string{"m", "eth0", "mv-eth0", "x"}, st, "wrong arguments"},
		{ActionAddIPVlan, []string{"eth0"}, st, "wrong arguments"},
		{ActionRemoveZone, nil, st, "wrong arguments"},
		{ActionAddZone, nil, nil, "want 1 argument"},
	}
	for _, tc := range cases {
		err := RunAction(tc.action, tc.args, tc.state)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.action) {
			t.Errorf("%s %q: %v, want an error naming the action and %q", tc.action, tc.args, err, tc.want)
		}
	}
	if !NeedsState(ActionAddVeth) || !NeedsState(ActionRemoveLink) || NeedsState(ActionAddZone) {
		t.Error("NeedsState: add-veth and remove-link read the state, add-zone does not")
	}
}
