package libcontainer

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// linux.netDevices moves host interfaces into the container's network
// namespace. hull requires a new namespace, so the devices live exactly as
// long as the container: when its init dies the namespace goes, and the
// kernel deletes virtual devices (dummy, veth, ...) and hands physical ones
// back to the initial network namespace, under their name or "dev<ifindex>"
// on a clash. Nothing of hull survives the init to move them back to the
// namespace hull ran in (runc does so only for joined namespaces, which
// outlive the container).

// validateNetDevices checks linux.netDevices before anything is created:
// names the kernel accepts, interfaces that exist in hull's network
// namespace, and a new network namespace to move them into.
func validateNetDevices(l *specs.Linux) error {
	if l == nil || len(l.NetDevices) == 0 {
		return nil
	}
	var errs []error
	if !newNetNamespace(l.Namespaces) {
		errs = append(errs, errors.New("linux.netDevices: needs a new network namespace (a linux.namespaces entry of type \"network\" without a path)"))
	}
	targets := map[string]string{}
	for _, host := range sortedKeys(l.NetDevices) {
		field := fmt.Sprintf("linux.netDevices[%q]", host)
		if err := checkIfName(host); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", field, err))
			continue
		}
		if _, err := netlink.LinkByName(host); err != nil {
			errs = append(errs, fmt.Errorf("%s: no such host network interface: %w", field, err))
		}
		target := containerIfName(host, l.NetDevices[host])
		if err := checkIfName(target); err != nil {
			errs = append(errs, fmt.Errorf("%s.name: %w", field, err))
		} else if other, dup := targets[target]; dup {
			errs = append(errs, fmt.Errorf("%s.name: %q is also the container name of %q", field, target, other))
		}
		targets[target] = host
	}
	return errors.Join(errs...)
}

func newNetNamespace(nss []specs.LinuxNamespace) bool {
	for _, ns := range nss {
		if ns.Type == specs.NetworkNamespace {
			return ns.Path == ""
		}
	}
	return false
}

func sortedKeys(m map[string]specs.LinuxNetDevice) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func containerIfName(host string, d specs.LinuxNetDevice) string {
	if d.Name != "" {
		return d.Name
	}
	return host
}

// checkIfName applies the kernel's dev_valid_name rules.
func checkIfName(name string) error {
	switch {
	case name == "":
		return errors.New("empty interface name")
	case len(name) >= unix.IFNAMSIZ:
		return fmt.Errorf("interface name %q is longer than %d bytes", name, unix.IFNAMSIZ-1)
	case name == "." || name == "..":
		return fmt.Errorf("interface name %q is reserved", name)
	case strings.ContainsAny(name, "/: \t\n\v\f\r"):
		return fmt.Errorf("interface name %q contains '/', ':' or white space", name)
	}
	return nil
}

// moveNetDevices moves every linux.netDevices interface into the network
// namespace of pid, renames it there, restores its addresses (moving a
// device drops them) and brings it up if it was up on the host.
func moveNetDevices(l *specs.Linux, pid int) error {
	if l == nil || len(l.NetDevices) == 0 {
		return nil
	}
	nsPath := fmt.Sprintf("/proc/%d/ns/net", pid)
	nsFile, err := os.Open(nsPath)
	if err != nil {
		return fmt.Errorf("linux.netDevices: open container network namespace: %w", err)
	}
	defer nsFile.Close()
	h, err := netlink.NewHandleAt(netns.NsHandle(nsFile.Fd()))
	if err != nil {
		return fmt.Errorf("linux.netDevices: netlink in %s: %w", nsPath, err)
	}
	defer h.Close()
	for _, host := range sortedKeys(l.NetDevices) {
		target := containerIfName(host, l.NetDevices[host])
		if err := moveNetDevice(h, int(nsFile.Fd()), host, target); err != nil {
			return fmt.Errorf("linux.netDevices[%q]: %w", host, err)
		}
	}
	return nil
}

func moveNetDevice(h *netlink.Handle, nsFd int, host, target string) error {
	link, err := netlink.LinkByName(host)
	if err != nil {
		return fmt.Errorf("find host interface: %w", err)
	}
	up := link.Attrs().Flags&net.FlagUp != 0
	addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list addresses: %w", err)
	}
	if err := netlink.LinkSetNsFd(link, nsFd); err != nil {
		return fmt.Errorf("move into the container's network namespace: %w", err)
	}
	// The same device, now seen from the container's namespace; the move
	// brought it down, which renaming requires anyway.
	moved, err := h.LinkByIndex(link.Attrs().Index)
	if err != nil {
		moved, err = h.LinkByName(host)
	}
	if err != nil {
		return fmt.Errorf("find it in the container's network namespace: %w", err)
	}
	if target != host {
		if err := h.LinkSetName(moved, target); err != nil {
			return fmt.Errorf("rename to %q: %w", target, err)
		}
	}
	for i := range addrs {
		a := &addrs[i]
		if a.IP.IsLinkLocalUnicast() && a.IP.To4() == nil {
			continue // the kernel makes a new IPv6 link-local address itself
		}
		a.LinkIndex = moved.Attrs().Index
		if rest, ok := strings.CutPrefix(a.Label, host); ok {
			a.Label = target + rest // the kernel wants labels to start with the name
		} else {
			a.Label = ""
		}
		if err := h.AddrAdd(moved, a); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("restore address %s: %w", a.IPNet, err)
		}
	}
	if up {
		if err := h.LinkSetUp(moved); err != nil {
			return fmt.Errorf("set %q up: %w", target, err)
		}
	}
	return nil
}
