package libcontainer

import specs "github.com/opencontainers/runtime-spec/specs-go"

func int64p(v int64) *int64 { return &v }

// defaultDeviceRules allow what every container gets whatever its config
// says, as in runc: creating device nodes (the rootfs step makes the
// default ones), the default devices, and ptys.
var defaultDeviceRules = []specs.LinuxDeviceCgroup{
	{Allow: true, Type: "c", Access: "m"},
	{Allow: true, Type: "b", Access: "m"},
	{Allow: true, Type: "c", Major: int64p(1), Minor: int64p(3), Access: "rwm"},    // null
	{Allow: true, Type: "c", Major: int64p(1), Minor: int64p(5), Access: "rwm"},    // zero
	{Allow: true, Type: "c", Major: int64p(1), Minor: int64p(7), Access: "rwm"},    // full
	{Allow: true, Type: "c", Major: int64p(1), Minor: int64p(8), Access: "rwm"},    // random
	{Allow: true, Type: "c", Major: int64p(1), Minor: int64p(9), Access: "rwm"},    // urandom
	{Allow: true, Type: "c", Major: int64p(5), Minor: int64p(0), Access: "rwm"},    // tty
	{Allow: true, Type: "c", Major: int64p(5), Minor: int64p(2), Access: "rwm"},    // ptmx
	{Allow: true, Type: "c", Major: int64p(136), Minor: nil, Access: "rwm"},        // pts/*
	{Allow: true, Type: "c", Major: int64p(10), Minor: int64p(200), Access: "rwm"}, // net/tun
}

// withDeviceRules returns resources whose device rules are the config's,
// then the defaults, as runc builds them. Devices listed in linux.devices
// get no rule of their own: the config's rules decide whether the
// container may use them (engines add an allow rule for each device they
// pass), so a device the rules deny stays denied.
func withDeviceRules(r *specs.LinuxResources) *specs.LinuxResources {
	out := specs.LinuxResources{}
	if r != nil {
		out = *r
	}
	rules := append([]specs.LinuxDeviceCgroup{}, out.Devices...)
	out.Devices = append(rules, defaultDeviceRules...)
	return &out
}

// withoutDeviceRules returns r without device rules: rootless, the devices
// controller (v1's devices.allow needs CAP_SYS_ADMIN on the host, v2's
// eBPF program too) is out of reach even in a delegated cgroup, so runc
// skips it and so does hull. The container still sees only the device
// nodes its rootfs step binds, which the user could open anyway.
func withoutDeviceRules(r *specs.LinuxResources) *specs.LinuxResources {
	if r == nil {
		return nil
	}
	out := *r
	out.Devices = nil
	return &out
}
