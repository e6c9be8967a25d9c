package libcontainer

import (
	"encoding/json"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/libcontainer/cgroups"
)

// Pause freezes every process of a created or running container.
func (c *Container) Pause() error {
	if _, err := c.require(OpPause); err != nil {
		return err
	}
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	if cg == nil {
		return noCgroup(c.ID, "pause (the freezer)")
	}
	return cg.Freeze()
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	if _, err := c.require(OpResume); err != nil {
		return err
	}
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	if cg == nil { // paused is only ever derived from a cgroup's freezer
		return fmt.Errorf("container %q: has no cgroup to thaw", c.ID)
	}
	return cg.Thaw()
}

// Update applies new resource limits and records them in the state.
func (c *Container) Update(r *specs.LinuxResources) error {
	if _, err := c.require(OpUpdate); err != nil {
		return err
	}
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	if cg == nil {
		return noCgroup(c.ID, "update (limits)")
	}
	if _, err := c.FullSpec(); err != nil {
		return err
	}
	// As runc's update (SkipDevices): containerd's CRI sends the whole
	// linux.resources, and rewriting the device rules from it would drop
	// those added after create, such as the NVIDIA hook's; nor are they
	// recorded, so the state never claims rules the cgroup lacks.
	r = withUnlimitedSwap(withoutDeviceRules(r))
	if c.Spec.Linux != nil {
		r = withCPUPair(c.Spec.Linux.Resources, r)
	}
	if err := cg.Set(r); err != nil {
		return err
	}
	if c.Spec.Linux == nil {
		c.Spec.Linux = &specs.Linux{}
	}
	c.Spec.Linux.Resources = mergeResources(c.Spec.Linux.Resources, r)
	c.rawSpec = nil // changed: encoded by save
	return c.save()
}

// mergeResources overlays the set sections of r on old.
func mergeResources(old, r *specs.LinuxResources) *specs.LinuxResources {
	out := specs.LinuxResources{}
	if old != nil {
		out = *old
	}
	// Field by field, as runc keeps what an update does not name: an
	// update of the cpuset alone keeps the container's quota.
	out.Memory = overlay(out.Memory, r.Memory)
	out.CPU = overlay(out.CPU, r.CPU)
	out.Pids = overlay(out.Pids, r.Pids)
	out.BlockIO = overlay(out.BlockIO, r.BlockIO)
	if r.HugepageLimits != nil {
		out.HugepageLimits = r.HugepageLimits
	}
	if r.Network != nil {
		out.Network = r.Network
	}
	if r.Unified != nil {
		out.Unified = r.Unified
	}
	return &out
}

// overlay returns old with the fields set in upd (non-nil, non-empty:
// the spec's types omit unset fields in JSON) replacing its own.
func overlay[T any](old, upd *T) *T {
	if upd == nil {
		return old
	}
	var out T
	if old != nil {
		if data, err := json.Marshal(old); err == nil {
			json.Unmarshal(data, &out) //nolint:errcheck // just marshalled
		}
	}
	data, err := json.Marshal(upd)
	if err != nil || json.Unmarshal(data, &out) != nil {
		return upd
	}
	return &out
}

// withUnlimitedSwap gives an update that lifts the memory limit (-1) and
// names no swap an unlimited swap too, as runc does: on v1 the kernel
// refuses a memory limit above memsw, and the state then records what
// the cgroup has rather than the old swap limit below an unlimited memory.
func withUnlimitedSwap(r *specs.LinuxResources) *specs.LinuxResources {
	if r == nil {
		return r
	}
	m := r.Memory
	if m == nil || m.Limit == nil || *m.Limit != -1 || (m.Swap != nil && *m.Swap != 0) {
		return r
	}
	mem := *m
	unlimited := int64(-1)
	mem.Swap = &unlimited
	out := *r
	out.Memory = &mem
	return &out
}

// withCPUPair completes an update that sets only one of the CFS quota and
// period with the container's current other half, as runc's update does:
// the kernel checks the pair against the parent's limit, and the systemd
// and v2 drivers write both at once.
func withCPUPair(cur, r *specs.LinuxResources) *specs.LinuxResources {
	if cur == nil || cur.CPU == nil || r.CPU == nil || (r.CPU.Quota == nil) == (r.CPU.Period == nil) {
		return r
	}
	cpu := *r.CPU
	if cpu.Quota == nil && cur.CPU.Quota != nil && *cur.CPU.Quota != 0 {
		q := *cur.CPU.Quota
		cpu.Quota = &q
	}
	if cpu.Period == nil && cur.CPU.Period != nil && *cur.CPU.Period != 0 {
		p := *cur.CPU.Period
		cpu.Period = &p
	}
	out := *r
	out.CPU = &cpu
	return &out
}

// Pids lists the host pids of every process in the container; a stopped
// one has none.
func (c *Container) Pids() ([]int, error) {
	st, err := c.require(OpPs)
	if err != nil || st == stopped {
		return nil, err
	}
	cg, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	if cg == nil {
		// No cgroup (rootless without delegation): the processes of the
		// init's pid namespace, when it has one of its own.
		return pidNamespaceMembers(c.Init.Pid)
	}
	return cg.Pids()
}

// Stats reads the container's resource usage.
func (c *Container) Stats() (*cgroups.Stats, error) {
	if _, err := c.require(OpStats); err != nil {
		return nil, err
	}
	cg, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	if cg == nil {
		return nil, noCgroup(c.ID, "events (stats)")
	}
	return cg.Stats()
}

// CgroupManager gives the container's cgroup, for events (nil: none).
func (c *Container) CgroupManager() (cgroups.Manager, error) { return c.cgroup() }
