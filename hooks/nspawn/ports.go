package nspawn

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Port forwarding actions (Port=, -p), as nspawn's expose-port.c: DNAT of a
// host port on any local address but loopback to the container's address.
const (
	ActionAddPorts    = "add-ports"    // createRuntime: PORT… (tcp:8000:80)
	ActionWatchPorts  = "watch-ports"  // internal: the watcher add-ports starts
	ActionRemovePorts = "remove-ports" // poststop
)

// Port is one forwarded port.
type Port struct {
	Proto     byte // unix.IPPROTO_TCP or unix.IPPROTO_UDP
	Host      uint16
	Container uint16
}

// ParsePort reads "tcp:8000:80" (nspawnconv writes every part).
func ParsePort(s string) (Port, error) {
	f := strings.Split(s, ":")
	if len(f) != 3 {
		return Port{}, fmt.Errorf("port %q: want PROTO:HOST:CONTAINER", s)
	}
	p := Port{Proto: map[string]byte{"tcp": unix.IPPROTO_TCP, "udp": unix.IPPROTO_UDP}[f[0]]}
	h, err1 := strconv.ParseUint(f[1], 10, 16)
	c, err2 := strconv.ParseUint(f[2], 10, 16)
	if p.Proto == 0 || err1 != nil || err2 != nil || h == 0 || c == 0 {
		return Port{}, fmt.Errorf("port %q: want tcp|udp:1-65535:1-65535", s)
	}
	p.Host, p.Container = uint16(h), uint16(c)
	return p, nil
}

// family is one address family's table: hull's own, one per container,
// so removing it removes exactly that container's rules.
type family struct {
	nf        nftables.TableFamily
	proto     uint32 // NFPROTO_* for the NAT expression
	size      int
	daddr     uint32 // offset of the destination address in the network header
	loopback  net.IPNet
	netlinkAF int
}

var families = []family{
	{nftables.TableFamilyIPv4, unix.NFPROTO_IPV4, 4, 16, net.IPNet{IP: net.IPv4(127, 0, 0, 0).To4(), Mask: net.CIDRMask(8, 32)}, unix.AF_INET},
	{nftables.TableFamilyIPv6, unix.NFPROTO_IPV6, 16, 24, net.IPNet{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)}, unix.AF_INET6},
}

// runPortAction: add-ports and remove-ports take the container from the
// state on stdin; watch-ports (started by add-ports) from ID PID arguments.
func runPortAction(action string, args []string, st *specs.State) error {
	if action == ActionWatchPorts {
		if len(args) < 3 {
			return fmt.Errorf("nspawn-hook %s: want ID PID PORT…, got %q", action, args)
		}
		pid, err := strconv.Atoi(args[1])
		if err != nil || pid <= 0 {
			return fmt.Errorf("nspawn-hook %s: pid %q", action, args[1])
		}
		return WatchPorts(ContainerRef{ID: args[0], Pid: pid}, args[2:])
	}
	if st == nil || st.ID == "" || (st.Pid <= 0 && action == ActionAddPorts) {
		return fmt.Errorf("nspawn-hook %s: the container state on stdin has no id or pid", action)
	}
	if action == ActionRemovePorts {
		return RemovePorts(st.ID)
	}
	if len(args) == 0 {
		return fmt.Errorf("nspawn-hook %s: no ports", action)
	}
	return AddPorts(ContainerRef{ID: st.ID, Pid: st.Pid}, args)
}

// PortTable names the nftables table of a container's forwarded ports.
func PortTable(id string) string { return "hull-ports-" + id }

// AddPorts makes the container's (empty) tables and starts the watcher
// that fills them with the container's address as it appears, as nspawn
// watches the container's addresses. If it fails, nothing is left.
func AddPorts(st ContainerRef, portArgs []string) error {
	for _, s := range portArgs {
		if _, err := ParsePort(s); err != nil {
			return err
		}
	}
	if err := createPortTables(st.ID); err != nil {
		return err
	}
	if err := startWatcher(st, portArgs); err != nil {
		RemovePorts(st.ID) //nolint:errcheck // the error above is the one to report
		return err
	}
	return nil
}

// createPortTables makes the container's empty tables and chains.
func createPortTables(id string) error {
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	for _, f := range families {
		// CreateTable fails on an existing table: another container of
		// this id (under another --root) keeps its own rules.
		t := conn.CreateTable(&nftables.Table{Name: PortTable(id), Family: f.nf})
		for _, c := range portChains(t) {
			conn.AddChain(c)
		}
	}
	if err := conn.Flush(); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("nftables: table %s exists: a container with id %s already forwards ports", PortTable(id), id)
		}
		RemovePorts(id) //nolint:errcheck // the error above is the one to report
		return fmt.Errorf("nftables: create table %s: %w", PortTable(id), err)
	}
	return nil
}

// portChains: DNAT for packets arriving for a local address, and for
// locally sent ones except to loopback (nspawn excludes it, so
// localhost:PORT stays the host's). Priority dstnat+1, as nspawn's.
func portChains(t *nftables.Table) []*nftables.Chain {
	prio := nftables.ChainPriorityRef(*nftables.ChainPriorityNATDest + 1)
	return []*nftables.Chain{
		{Name: "prerouting", Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPrerouting, Priority: prio},
		{Name: "output", Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookOutput, Priority: prio},
	}
}

// startWatcher starts `hull nspawn-hook watch-ports ID PID PORT…`, detached
// (own session, no stdio the runtime waits on); it ends with the container.
func startWatcher(st ContainerRef, portArgs []string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("watch ports: %w", err)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	cmd := exec.Command(self, append([]string{"nspawn-hook", ActionWatchPorts, st.ID, strconv.Itoa(st.Pid)}, portArgs...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start port watcher: %w", err)
	}
	return cmd.Process.Release()
}

// RemovePorts deletes the container's tables; absent ones are fine.
func RemovePorts(id string) error {
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	var errs []error
	for _, f := range families {
		conn.DelTable(&nftables.Table{Name: PortTable(id), Family: f.nf})
		if err := conn.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("nftables: delete table %s: %w", PortTable(id), err))
		}
	}
	return errors.Join(errs...)
}

// WatchPorts keeps the DNAT rules pointing at the container's address
// until the container's init (pid) exits, then removes the tables.
func WatchPorts(st ContainerRef, portArgs []string) error {
	// Whatever ends the watcher ends the forwarding: also a container that
	// died before the watcher could look (a failed create).
	defer RemovePorts(st.ID) //nolint:errcheck // best effort; poststop removes them too
	ports := make([]Port, 0, len(portArgs))
	for _, s := range portArgs {
		p, err := ParsePort(s)
		if err != nil {
			return err
		}
		ports = append(ports, p)
	}
	pidfd, err := unix.PidfdOpen(st.Pid, 0)
	if err != nil {
		return fmt.Errorf("watch ports: pidfd of %d: %w", st.Pid, err)
	}
	defer unix.Close(pidfd)
	nsf, err := containerNetns(st.Pid)
	if err != nil {
		return err
	}
	defer nsf.Close()
	ns := netns.NsHandle(nsf.Fd())
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("watch ports: netlink in the container: %w", err)
	}
	defer h.Close()
	updates, done := make(chan netlink.AddrUpdate, 16), make(chan struct{})
	defer close(done)
	if err := netlink.AddrSubscribeWithOptions(updates, done, netlink.AddrSubscribeOptions{Namespace: &ns}); err != nil {
		return fmt.Errorf("watch ports: subscribe to addresses: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, -1); err != unix.EINTR {
				close(exited)
				return
			}
		}
	}()
	exposed := make([]net.IP, len(families))
	for {
		for i, f := range families {
			addr := exposedAddress(h, f.netlinkAF)
			if addr.Equal(exposed[i]) {
				continue
			}
			if err := setDNAT(st.ID, f, addr, ports); err != nil {
				return err // the table is gone (poststop) or nftables fails: stop
			}
			exposed[i] = addr
		}
		select {
		case <-exited:
			return nil
		case _, ok := <-updates:
			if !ok {
				return errors.New("watch ports: address subscription closed")
			}
		}
	}
}

// exposedAddress is the address nspawn exposes: of the container's
// addresses of the family, not deprecated, ordered by scope, interface index
// and address, the first, if its scope is wider than link; else none.
func exposedAddress(h *netlink.Handle, af int) net.IP {
	addrs, err := h.AddrList(nil, af)
	if err != nil {
		return nil
	}
	addrs = slices.DeleteFunc(addrs, func(a netlink.Addr) bool { return a.Flags&unix.IFA_F_DEPRECATED != 0 })
	slices.SortFunc(addrs, func(a, b netlink.Addr) int {
		if a.Scope != b.Scope {
			return a.Scope - b.Scope
		}
		if a.LinkIndex != b.LinkIndex {
			return a.LinkIndex - b.LinkIndex
		}
		return bytes.Compare(a.IP, b.IP)
	})
	if len(addrs) == 0 || addrs[0].Scope >= unix.RT_SCOPE_LINK {
		return nil
	}
	return addrs[0].IP
}

// setDNAT replaces the rules of one family's table with DNAT to addr (no
// rules when addr is nil), in one transaction.
func setDNAT(id string, f family, addr net.IP, ports []Port) error {
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := &nftables.Table{Name: PortTable(id), Family: f.nf}
	for _, c := range portChains(t) {
		conn.FlushChain(c)
		if addr == nil {
			continue
		}
		for _, p := range ports {
			conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: dnatExprs(f, c.Name == "output", addr, p)})
		}
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("nftables: update %s: %w", PortTable(id), err)
	}
	return nil
}

// dnatExprs: [daddr not loopback] fib daddr type local, l4proto, dport → dnat.
func dnatExprs(f family, local bool, addr net.IP, p Port) []expr.Any {
	ip := addr.To16()
	if f.size == 4 {
		ip = addr.To4()
	}
	var e []expr.Any
	if local {
		e = append(e,
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: f.daddr, Len: uint32(f.size)},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: uint32(f.size), Mask: f.loopback.Mask, Xor: make([]byte, f.size)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: f.loopback.IP.Mask(f.loopback.Mask)})
	}
	return append(e,
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p.Proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p.Host)},
		&expr.Immediate{Register: 1, Data: ip},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(p.Container)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: f.proto, RegAddrMin: 1, RegProtoMin: 2, Specified: true})
}
