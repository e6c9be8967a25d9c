package nspawnconv

import (
	"reflect"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestNetworkLinks(t *testing.T) {
	long := "a-machine-name-longer-than-fifteen"
	cases := []struct {
		name string
		args []string
		want []HookStep
	}{
		{"veth", []string{"-M", "web", "-n"}, []HookStep{
			{Stage: "createRuntime", Action: "add-veth", Args: []string{"web", "ve-web", "host0"}, Key: "VirtualEthernet="},
			{Stage: "poststop", Action: "remove-link", Args: []string{"ve-web"}, Key: "VirtualEthernet="},
		}},
		{"bridge", []string{"-M", "web", "--network-bridge=br0"}, []HookStep{
			{Stage: "createRuntime", Action: "add-veth", Args: []string{"web", "vb-web", "host0", "br0"}, Key: "VirtualEthernet="},
			{Stage: "poststop", Action: "remove-link", Args: []string{"vb-web"}, Key: "VirtualEthernet="},
		}},
		{"zone", []string{"-M", "web", "--network-zone=lab"}, []HookStep{
			{Stage: "createRuntime", Action: "add-zone", Args: []string{"vz-lab"}, Key: "Zone=lab"},
			{Stage: "createRuntime", Action: "add-veth", Args: []string{"web", "vb-web", "host0", "vz-lab"}, Key: "VirtualEthernet="},
			{Stage: "poststop", Action: "remove-link", Args: []string{"vb-web"}, Key: "VirtualEthernet="},
			{Stage: "poststop", Action: "remove-zone", Args: []string{"vz-lab"}, Key: "Zone=lab"},
		}},
		{"long name, extra pairs, macvlan, ipvlan", []string{"-M", long, "--network-veth-extra=ex0:in0", "--network-veth-extra=ex1",
			"--network-macvlan=eth0", "--network-macvlan=enp0s31f6", "--network-ipvlan=eth1"}, []HookStep{
			{Stage: "createRuntime", Action: "add-veth", Args: []string{long, "ex0", "in0"}, Key: "VirtualEthernetExtra=ex0"},
			{Stage: "poststop", Action: "remove-link", Args: []string{"ex0"}, Key: "VirtualEthernetExtra=ex0"},
			{Stage: "createRuntime", Action: "add-veth", Args: []string{long, "ex1", "ex1"}, Key: "VirtualEthernetExtra=ex1"},
			{Stage: "poststop", Action: "remove-link", Args: []string{"ex1"}, Key: "VirtualEthernetExtra=ex1"},
			{Stage: "createRuntime", Action: "add-macvlan", Args: []string{long, "eth0", "mv-eth0", "0"}, Key: "MACVLAN=eth0"},
			{Stage: "createRuntime", Action: "add-macvlan", Args: []string{long, "enp0s31f6", ShortIfName("mv-enp0s31f6"), "1"}, Key: "MACVLAN=enp0s31f6"},
			{Stage: "createRuntime", Action: "add-ipvlan", Args: []string{"eth1", "iv-eth1"}, Key: "IPVLAN=eth1"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "m")
			c, err := mustCLI(t, append([]string{"-D", f.root}, tc.args...)...).ToSpec(f.options())
			if err != nil {
				t.Fatal(err)
			}
			var got []HookStep
			for _, h := range c.Hooks {
				if h.Action != "chown-cgroup" && h.Action != "register" && h.Action != "unregister" {
					got = append(got, h)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("hooks\n got %+v\nwant %+v", got, tc.want)
			}
			if !slices.ContainsFunc(c.Spec.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace && n.Path == "" }) {
				t.Error("no new network namespace")
			}
			if n := len(c.Spec.Hooks.CreateRuntime); n == 0 || c.Spec.Hooks.CreateRuntime[0].Args[1] != "nspawn-hook" {
				t.Errorf("createRuntime hooks %+v", c.Spec.Hooks.CreateRuntime)
			}
		})
	}
}

func TestShortIfName(t *testing.T) {
	for in, want := range map[string]string{"ve-web": "ve-web", "ve-exactly15byt": "ve-exactly15byt"} {
		if got := ShortIfName(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
	a, b := ShortIfName("ve-a-long-machine-1"), ShortIfName("ve-a-long-machine-2")
	if len(a) != 15 || len(b) != 15 || a == b || a[:7] != "ve-a-lo" {
		t.Errorf("long names %q %q: want 15 bytes, distinct, prefix kept", a, b)
	}
}
