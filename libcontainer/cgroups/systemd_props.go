package cgroups

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// systemd's "infinity" for limits.
const sdInfinity = math.MaxUint64

func prop(name string, v any) sdbus.Property {
	return sdbus.Property{Name: name, Value: godbus.MakeVariant(v)}
}

// scopeProperties describes the scope at creation: where it lives, that its
// cgroup is delegated, that accounting (hence the controllers hull writes
// and reads) is on, and the resources systemd has properties for.
func scopeProperties(u systemdUnit, desc string, pid int, r *specs.LinuxResources) ([]sdbus.Property, error) {
	props := []sdbus.Property{
		sdbus.PropDescription(desc),
		sdbus.PropSlice(u.slice),
		sdbus.PropPids(uint32(pid)),
		prop("Delegate", true),
		// No ordering against shutdown.target and friends: the container
		// goes when its processes do.
		prop("DefaultDependencies", false),
		prop("MemoryAccounting", true),
		prop("CPUAccounting", true),
		prop("IOAccounting", true),
		prop("TasksAccounting", true),
	}
	rp, err := resourceProperties(r, 0)
	if err != nil {
		return nil, err
	}
	return append(props, rp...), nil
}

// resourceProperties maps the fields systemd has properties for, so that a
// daemon-reload re-applies what hull set instead of resetting it; hull writes
// the cgroup files too (exact values, and the fields without a property).
// curPeriod is cpu.max's period, for an update of the quota alone (0: the
// kernel default).
func resourceProperties(r *specs.LinuxResources, curPeriod uint64) ([]sdbus.Property, error) {
	if r == nil {
		return nil, nil
	}
	var props []sdbus.Property
	if mem := r.Memory; mem != nil {
		if nz(mem.Limit) {
			props = append(props, prop("MemoryMax", sdLimit(*mem.Limit)))
		}
		if nz(mem.Reservation) {
			props = append(props, prop("MemoryLow", sdLimit(*mem.Reservation)))
		}
		if mem.Limit != nil && (nz(mem.Swap) || *mem.Limit == -1) {
			swap := int64(0)
			if mem.Swap != nil {
				swap = *mem.Swap
			}
			v, set, err := swapV2(swap, *mem.Limit)
			if err != nil {
				return nil, fmt.Errorf("linux.resources.memory.swap: %d: %w", swap, err)
			}
			if set {
				props = append(props, prop("MemorySwapMax", sdLimit(v)))
			}
		}
	}
	cp, err := cpuProperties(r.CPU, curPeriod)
	if err != nil {
		return nil, err
	}
	props = append(props, cp...)
	if r.Pids != nil && nz(r.Pids.Limit) {
		v := uint64(sdInfinity)
		if *r.Pids.Limit > 0 {
			v = uint64(*r.Pids.Limit)
		}
		props = append(props, prop("TasksMax", v))
	}
	if b := r.BlockIO; b != nil && nzu16(b.Weight) {
		props = append(props, prop("IOWeight", blkioToIOWeight(*b.Weight)))
	}
	return props, nil
}

func sdLimit(v int64) uint64 {
	if v < 0 {
		return sdInfinity
	}
	return uint64(v)
}

func cpuProperties(c *specs.LinuxCPU, curPeriod uint64) ([]sdbus.Property, error) {
	if c == nil {
		return nil, nil
	}
	var props []sdbus.Property
	if nzu(c.Shares) {
		props = append(props, prop("CPUWeight", sharesToWeight(*c.Shares)))
	}
	period := curPeriod
	if nzu(c.Period) {
		period = *c.Period
		props = append(props, prop("CPUQuotaPeriodUSec", period))
	}
	if period == 0 {
		period = 100000
	}
	if nz(c.Quota) {
		props = append(props, prop("CPUQuotaPerSecUSec", quotaPerSec(*c.Quota, period)))
	}
	for _, s := range []struct {
		name, field, list string
	}{{"AllowedCPUs", "cpu.cpus", c.Cpus}, {"AllowedMemoryNodes", "cpu.mems", c.Mems}} {
		if s.list == "" {
			continue
		}
		mask, err := listToMask(s.list)
		if err != nil {
			return nil, fmt.Errorf("linux.resources.%s: %q: %w", s.field, s.list, err)
		}
		props = append(props, prop(s.name, mask))
	}
	return props, nil
}

// quotaPerSec turns quota per period into systemd's CPU time per second.
// systemd keeps it as a percentage internally, so it is rounded up to whole
// percents (10ms per second): rounding down could make the scope's own
// cpu.max tighter than the container asked for.
func quotaPerSec(quota int64, period uint64) uint64 {
	if quota < 0 {
		return sdInfinity
	}
	perSec := uint64(quota) * 1000000 / period
	if rem := perSec % 10000; rem != 0 {
		perSec += 10000 - rem
	}
	return perSec
}

// listToMask turns a cpuset list ("0-3,8") into the little-endian bitmask
// systemd takes for AllowedCPUs / AllowedMemoryNodes.
func listToMask(list string) ([]byte, error) {
	var mask []byte
	for _, part := range strings.Split(strings.TrimSpace(list), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("bad number %q", lo)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
				return nil, fmt.Errorf("bad range %q", part)
			}
		}
		for i := a; i <= b; i++ {
			for uint64(len(mask)) <= i/8 {
				mask = append(mask, 0)
			}
			mask[i/8] |= 1 << (i % 8)
		}
	}
	return mask, nil
}
