package nspawnconv

import (
	"fmt"
	"hash/fnv"
	"strconv"
)

// setupNetworkLinks adds the hooks that make nspawn's virtual links once
// the container's network namespace exists (createRuntime, in the
// runtime's own namespace, so any runtime can run them): the veth pair
// ve-NAME/host0 (vb-NAME when it joins Bridge= or the Zone= bridge vz-ZONE,
// made on demand), VirtualEthernetExtra= pairs, and mv-IF/iv-IF macvlan and
// ipvlan links on host interfaces. Poststop removes the host ends and an
// empty zone bridge, as nspawn does on exit.
func (cv *converter) setupNetworkLinks() error {
	s, name := cv.s, cv.c.MachineName
	bridge := s.Bridge
	if s.Zone != "" {
		bridge = "vz-" + s.Zone
		cv.hook("createRuntime", "add-zone", "Zone="+s.Zone, bridge)
	}
	if s.VirtualEthernet || bridge != "" {
		prefix := "ve-"
		if bridge != "" {
			prefix = "vb-"
		}
		host := ShortIfName(prefix + name)
		args := []string{name, host, "host0"}
		if bridge != "" {
			args = append(args, bridge)
		}
		cv.hook("createRuntime", "add-veth", "VirtualEthernet=", args...)
		cv.hook("poststop", "remove-link", "VirtualEthernet=", host)
	}
	for _, v := range s.VirtualEthernetExtra {
		cv.hook("createRuntime", "add-veth", "VirtualEthernetExtra="+v.Host, name, v.Host, v.Container)
		cv.hook("poststop", "remove-link", "VirtualEthernetExtra="+v.Host, v.Host)
	}
	for i, parent := range s.MACVLAN {
		cv.hook("createRuntime", "add-macvlan", "MACVLAN="+parent, name, parent, ShortIfName("mv-"+parent), strconv.Itoa(i))
	}
	for _, parent := range s.IPVLAN {
		cv.hook("createRuntime", "add-ipvlan", "IPVLAN="+parent, parent, ShortIfName("iv-"+parent))
	}
	if s.Zone != "" {
		cv.hook("poststop", "remove-zone", "Zone="+s.Zone, bridge)
	}
	return cv.setupPorts()
}

// setupPorts forwards Port= entries with hooks: a DNAT table of the
// container's own, kept pointing at its address while it runs, removed at
// poststop. As nspawn, only with private networking.
func (cv *converter) setupPorts() error {
	if len(cv.s.Ports) == 0 {
		return nil
	}
	if !cv.privNet {
		return &RefusedError{Key: "Port=", Reason: "needs private networking (as in nspawn: --private-network, --network-veth, --network-bridge=, --network-zone=, …)"}
	}
	args := make([]string, 0, len(cv.s.Ports))
	for _, p := range cv.s.Ports {
		args = append(args, fmt.Sprintf("%s:%d:%d", p.Protocol, p.Host, p.Container))
	}
	cv.hook("createRuntime", "add-ports", "Port=", args...)
	cv.hook("poststop", "remove-ports", "Port=")
	return nil
}

// ShortIfName fits a generated interface name into the kernel's 15
// bytes as nspawn does for long machine names: the first 7 bytes and a
// hash of the whole name, so different long names stay different.
func ShortIfName(n string) string {
	if len(n) <= 15 {
		return n
	}
	h := fnv.New32a()
	h.Write([]byte(n))
	return fmt.Sprintf("%s%08x", n[:7], h.Sum32())
}
