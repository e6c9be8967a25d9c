package nspawn

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Network hook actions: nspawn's virtual links, made from the runtime's
// network namespace once the container's exists (createRuntime), and the
// host ends removed again at poststop.
const (
	ActionAddVeth    = "add-veth"    // MACHINE HOSTIF CONTAINERIF [BRIDGE]
	ActionAddMacvlan = "add-macvlan" // MACHINE PARENT CONTAINERIF INDEX
	ActionAddIPVlan  = "add-ipvlan"  // PARENT CONTAINERIF
	ActionAddZone    = "add-zone"    // BRIDGE
	ActionRemoveLink = "remove-link" // HOSTIF
	ActionRemoveZone = "remove-zone" // BRIDGE
)

// ownerAlias marks a host end with the container that made it (its
// ifalias), so that poststop removes only its own links: a second run of
// the same bundle fails to make ve-NAME and must not delete the first's.
func ownerAlias(containerID string) string { return "hull-nspawn:" + containerID }

// zoneLock keeps one machine's remove-zone from deleting a bridge another
// is just joining (one lock for all zones, as nspawn has).
const zoneLock = "/run/hull-nspawn/network-zone.lock"

// ContainerRef is what the network actions need of the container state
// the runtime passes a hook.
type ContainerRef struct {
	ID  string
	Pid int
}

// containerNetns opens the network namespace of the container's init.
func containerNetns(pid int) (*os.File, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return nil, fmt.Errorf("network namespace of container pid %d: %w", pid, err)
	}
	return f, nil
}

// stableMAC derives a locally administered unicast address from the
// machine and interface names, so a machine's links keep their addresses
// (and DHCP leases) across runs, as nspawn's do.
func stableMAC(machine, ifname string) net.HardwareAddr {
	sum := sha256.Sum256([]byte(machine + "\x00" + ifname))
	mac := net.HardwareAddr(sum[:6])
	mac[0] = mac[0]&^0x01 | 0x02
	return mac
}

// AddVeth makes the pair hostIf/ctrIf with ctrIf already in the
// container's namespace, marks the host end as owned by the container,
// brings it up and, with a bridge, joins it. On failure the pair is
// deleted again.
func AddVeth(st ContainerRef, machine, hostIf, ctrIf, bridge string) error {
	pid := st.Pid
	ns, err := containerNetns(pid)
	if err != nil {
		return err
	}
	defer ns.Close()
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: hostIf, HardwareAddr: stableMAC(machine, hostIf+"@host")},
		PeerName:         ctrIf,
		PeerHardwareAddr: stableMAC(machine, ctrIf),
		PeerNamespace:    netlink.NsFd(ns.Fd()),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth %s/%s: %w", hostIf, ctrIf, err)
	}
	if err := attachHostEnd(hostIf, bridge, ownerAlias(st.ID)); err != nil {
		netlink.LinkDel(veth) //nolint:errcheck // the error above is the one to report
		return err
	}
	return nil
}

func attachHostEnd(hostIf, bridge, alias string) error {
	link, err := netlink.LinkByName(hostIf)
	if err != nil {
		return fmt.Errorf("veth %s: %w", hostIf, err)
	}
	if err := netlink.LinkSetAlias(link, alias); err != nil {
		return fmt.Errorf("mark %s as %s: %w", hostIf, alias, err)
	}
	if bridge != "" {
		br, err := netlink.LinkByName(bridge)
		if err != nil {
			return fmt.Errorf("bridge %s: %w", bridge, err)
		}
		if err := netlink.LinkSetMaster(link, br); err != nil {
			return fmt.Errorf("add %s to bridge %s: %w", hostIf, bridge, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %s up: %w", hostIf, err)
	}
	return nil
}

// AddMacvlan makes a bridge-mode macvlan on the host interface parent,
// created straight into the container's namespace as ctrIf.
func AddMacvlan(pid int, machine, parent, ctrIf string, index int) error {
	return addChildLink(pid, parent, func(attrs netlink.LinkAttrs) netlink.Link {
		attrs.Name = ctrIf
		attrs.HardwareAddr = stableMAC(machine, ctrIf+"#"+strconv.Itoa(index))
		return &netlink.Macvlan{LinkAttrs: attrs, Mode: netlink.MACVLAN_MODE_BRIDGE}
	})
}

// AddIPVlan makes an L2 ipvlan on parent in the container as ctrIf.
func AddIPVlan(pid int, parent, ctrIf string) error {
	return addChildLink(pid, parent, func(attrs netlink.LinkAttrs) netlink.Link {
		attrs.Name = ctrIf
		return &netlink.IPVlan{LinkAttrs: attrs, Mode: netlink.IPVLAN_MODE_L2}
	})
}

func addChildLink(pid int, parent string, make func(netlink.LinkAttrs) netlink.Link) error {
	p, err := netlink.LinkByName(parent)
	if err != nil {
		return fmt.Errorf("host interface %s: %w", parent, err)
	}
	ns, err := containerNetns(pid)
	if err != nil {
		return err
	}
	defer ns.Close()
	link := make(netlink.LinkAttrs{ParentIndex: p.Attrs().Index, Namespace: netlink.NsFd(ns.Fd())})
	if err := netlink.LinkAdd(link); err != nil {
		return fmt.Errorf("add %s %s on %s: %w", link.Type(), link.Attrs().Name, parent, err)
	}
	return nil
}

// AddZone makes the zone's bridge unless it exists, and brings it up.
func AddZone(bridge string) error {
	return withZoneBridge(bridge, func(br netlink.Link) error {
		if br == nil {
			br = &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: bridge}}
			if err := netlink.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
				return fmt.Errorf("add zone bridge %s: %w", bridge, err)
			}
		} else if br.Type() != "bridge" {
			return fmt.Errorf("zone bridge %s: exists and is a %s, not a bridge", bridge, br.Type())
		}
		if err := netlink.LinkSetUp(br); err != nil {
			return fmt.Errorf("set %s up: %w", bridge, err)
		}
		return nil
	})
}

// RemoveZone deletes the zone's bridge once no interface but the
// container's own (whose namespace may still be going away) is attached.
func RemoveZone(st ContainerRef, bridge string) error {
	return withZoneBridge(bridge, func(br netlink.Link) error {
		if br == nil {
			return nil
		}
		links, err := netlink.LinkList()
		if err != nil {
			return fmt.Errorf("list links: %w", err)
		}
		for _, l := range links {
			if l.Attrs().MasterIndex == br.Attrs().Index && l.Attrs().Alias != ownerAlias(st.ID) {
				return nil // another machine still uses the zone
			}
		}
		if err := netlink.LinkDel(br); err != nil {
			return fmt.Errorf("delete zone bridge %s: %w", bridge, err)
		}
		return nil
	})
}

// withZoneBridge runs fn under the zone lock with the bridge's link, nil
// when there is none.
func withZoneBridge(bridge string, fn func(netlink.Link) error) error {
	unlock, err := lockZone(bridge)
	if err != nil {
		return err
	}
	defer unlock()
	br, err := netlink.LinkByName(bridge)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		return fn(nil)
	}
	if err != nil {
		return fmt.Errorf("zone bridge %s: %w", bridge, err)
	}
	return fn(br)
}

// RemoveLink deletes the container's host-side link; one already gone
// (the kernel drops a veth with its namespace), or another container's,
// is left alone.
func RemoveLink(st ContainerRef, name string) error {
	link, err := netlink.LinkByName(name)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	if link.Attrs().Alias != ownerAlias(st.ID) {
		return nil
	}
	if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}

// lockZone serialises zone bridge creation and removal between machines.
func lockZone(bridge string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(zoneLock), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(zoneLock, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock zone %s: %w", bridge, err)
	}
	return func() { f.Close() }, nil
}
