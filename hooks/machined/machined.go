// Package machined registers machines with systemd-machined over D-Bus, as
// systemd-nspawn does (nspawn-register.c), so that machinectl, journalctl -M
// and systemd-run -M see them.
package machined

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	godbus "github.com/godbus/dbus/v5"
)

const (
	busName   = "org.freedesktop.machine1"
	busPath   = "/org/freedesktop/machine1"
	manager   = busName + ".Manager"
	sdName    = "org.freedesktop.systemd1"
	sdPath    = "/org/freedesktop/systemd1"
	sdManager = sdName + ".Manager"
	// SystemBusSocket is where the system bus listens.
	SystemBusSocket = "/run/dbus/system_bus_socket"
	callTimeout     = 30 * time.Second
)

// Machine is what machined records about a running machine.
type Machine struct {
	Name     string
	ID       string // 32 hex digits (the machine's UUID without dashes); "" = none
	Service  string // the manager's name ("hull")
	Leader   int    // the machine's PID 1, seen from the host
	Root     string // host path of its root directory
	Slice    string // slice of the scope CreateMachine makes; "" = machine.slice
	KeepUnit bool   // register the leader's own unit instead of a new scope
	NetIfs   []string
	// Properties of the scope CreateMachine makes (nspawn's --property=),
	// NAME=VALUE as systemd's D-Bus API names them: DeviceAllow=PATH ACCESS,
	// the others a decimal uint64.
	Properties []string
	// KillSignal is the machine's stop signal (SIGRTMIN+3 for a booted
	// systemd); nonzero puts it on the scope, so that stopping the scope
	// (machinectl terminate, systemctl stop) powers the machine off.
	KillSignal int
}

// ScopeName is the unit CreateMachine makes for a machine: machine-NAME.scope
// with NAME escaped as systemd escapes unit name parts.
func ScopeName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '-' || c == '\\' || c == '/' || (c == '.' && i == 0) {
			fmt.Fprintf(&b, "\\x%02x", c)
			continue
		}
		b.WriteByte(c)
	}
	return "machine-" + b.String() + ".scope"
}

// Reachable reports whether the system bus exists and systemd-machined is
// on it or can be activated there.
func Reachable() bool {
	if _, err := os.Stat(SystemBusSocket); err != nil {
		return false
	}
	conn, err := connect()
	if err != nil {
		return false
	}
	defer conn.Close()
	var names []string
	if err := conn.BusObject().Call("org.freedesktop.DBus.ListActivatableNames", 0).Store(&names); err == nil {
		for _, n := range names {
			if n == busName {
				return true
			}
		}
	}
	var has bool
	err = conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, busName).Store(&has)
	return err == nil && has
}

func connect() (*godbus.Conn, error) {
	conn, err := godbus.SystemBusPrivate()
	if err != nil {
		return nil, fmt.Errorf("system bus: %w", err)
	}
	if err := conn.Auth(nil); err != nil {
		conn.Close()
		return nil, fmt.Errorf("system bus: authenticate: %w", err)
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("system bus: hello: %w", err)
	}
	return conn, nil
}

// Register makes the machine known to machined. With KeepUnit, or when the
// leader already sits in the scope CreateMachine would make (a runtime's
// systemd cgroup driver made it), machined records the leader's unit
// (RegisterMachineWithNetwork); otherwise machined has systemd make a
// delegated scope in the slice and move the leader there
// (CreateMachineWithNetwork), as nspawn does without --keep-unit.
func Register(m Machine) error {
	id, err := machineID(m.ID)
	if err != nil {
		return err
	}
	ifs, err := ifIndexes(m.NetIfs)
	if err != nil {
		return err
	}
	conn, err := connect()
	if err != nil {
		return fmt.Errorf("register machine %s: %w", m.Name, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	obj := conn.Object(busName, busPath)
	keep := m.KeepUnit || leaderUnit(ctx, conn, m.Leader) == ScopeName(m.Name)
	var call *godbus.Call
	props, err := scopeProperties(m)
	if err != nil {
		return fmt.Errorf("register machine %s: %w", m.Name, err)
	}
	if keep {
		call = obj.CallWithContext(ctx, manager+".RegisterMachineWithNetwork", 0,
			m.Name, id, m.Service, "container", uint32(m.Leader), m.Root, ifs)
	} else {
		call = obj.CallWithContext(ctx, manager+".CreateMachineWithNetwork", 0,
			m.Name, id, m.Service, "container", uint32(m.Leader), m.Root, ifs, props)
	}
	if call.Err != nil {
		return fmt.Errorf("register machine %s with systemd-machined: %w", m.Name, call.Err)
	}
	return nil
}

// property is one (sv) of a unit's properties.
type property struct {
	Name  string
	Value godbus.Variant
}

// deviceRule is one (ss) DeviceAllow= entry.
type deviceRule struct{ Path, Access string }

// scopeProperties are those nspawn gives the scope: delegated (systemd in
// the machine manages its own sub-cgroups), collected when it ends, and
// nspawn's device allow-list and task limit; then the caller's, which
// systemd applies after these (a later TasksMax wins, DeviceAllow adds).
func scopeProperties(m Machine) ([]property, error) {
	props := []property{
		{"Description", godbus.MakeVariant("Container " + m.Name)},
		{"Delegate", godbus.MakeVariant(true)},
		{"CollectMode", godbus.MakeVariant("inactive-or-failed")},
		{"DevicePolicy", godbus.MakeVariant("closed")},
		{"DeviceAllow", godbus.MakeVariant([]deviceRule{
			{"/dev/null", "rwm"}, {"/dev/zero", "rwm"}, {"/dev/full", "rwm"},
			{"/dev/random", "rwm"}, {"/dev/urandom", "rwm"}, {"/dev/tty", "rwm"},
			{"/dev/net/tun", "rwm"}, {"/dev/pts/ptmx", "rw"}, {"char-pts", "rw"},
		})},
		{"TasksMax", godbus.MakeVariant(uint64(16384))},
	}
	if m.Slice != "" {
		props = append(props, property{"Slice", godbus.MakeVariant(m.Slice)})
	}
	if m.KillSignal != 0 {
		// As nspawn: the signal goes to the leader, SIGKILL at the end
		// to all; systemd as PID 1 takes SIGTERM as "re-execute".
		props = append(props,
			property{"KillSignal", godbus.MakeVariant(int32(m.KillSignal))},
			property{"KillMode", godbus.MakeVariant("mixed")})
	}
	for _, p := range m.Properties {
		prop, err := scopeProperty(p)
		if err != nil {
			return nil, err
		}
		props = append(props, prop)
	}
	return props, nil
}

// scopeProperty types one NAME=VALUE as systemd's D-Bus API takes it.
func scopeProperty(p string) (property, error) {
	name, val, _ := strings.Cut(p, "=")
	switch name {
	case "DeviceAllow":
		dev, access, _ := strings.Cut(val, " ")
		if !strings.HasPrefix(dev, "/dev/") && !strings.HasPrefix(dev, "char-") && !strings.HasPrefix(dev, "block-") {
			return property{}, fmt.Errorf("scope property %q: want DeviceAllow=PATH ACCESS", p)
		}
		return property{name, godbus.MakeVariant([]deviceRule{{dev, access}})}, nil
	case "MemoryMax", "MemoryHigh", "TasksMax", "CPUQuotaPerSecUSec", "CPUWeight", "IOWeight":
		n, err := strconv.ParseUint(val, 10, 64)
		if err != nil {
			return property{}, fmt.Errorf("scope property %q: want a decimal number", p)
		}
		return property{name, godbus.MakeVariant(n)}, nil
	}
	return property{}, fmt.Errorf("scope property %q: hull does not pass %s to systemd", p, name)
}

// leaderUnit names the unit systemd has the process in ("" if unknown).
func leaderUnit(ctx context.Context, conn *godbus.Conn, pid int) string {
	var unit godbus.ObjectPath
	sd := conn.Object(sdName, sdPath)
	if err := sd.CallWithContext(ctx, sdManager+".GetUnitByPID", 0, uint32(pid)).Store(&unit); err != nil {
		return ""
	}
	v, err := conn.Object(sdName, unit).GetProperty(sdName + ".Unit.Id")
	if err != nil {
		return ""
	}
	id, _ := v.Value().(string)
	return id
}

// Unregister forgets the machine. A machine machined already dropped (its
// scope ended with it) is success, so poststop can run after it is gone.
func Unregister(name string) error {
	conn, err := connect()
	if err != nil {
		return fmt.Errorf("unregister machine %s: %w", name, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	err = conn.Object(busName, busPath).CallWithContext(ctx, manager+".UnregisterMachine", 0, name).Err
	var derr godbus.Error
	if errors.As(err, &derr) && derr.Name == busName+".NoSuchMachine" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unregister machine %s: %w", name, err)
	}
	return nil
}

// machineID decodes the 128-bit ID; machined takes it as 16 bytes (or none).
func machineID(s string) ([]byte, error) {
	if s == "" {
		return []byte{}, nil
	}
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		return nil, fmt.Errorf("machine id %q: want 32 hex digits", s)
	}
	return b, nil
}

func ifIndexes(names []string) ([]int32, error) {
	out := []int32{}
	for _, n := range names {
		ifc, err := net.InterfaceByName(n)
		if err != nil {
			return nil, fmt.Errorf("machine interface %s: %w", n, err)
		}
		out = append(out, int32(ifc.Index))
	}
	return out, nil
}
