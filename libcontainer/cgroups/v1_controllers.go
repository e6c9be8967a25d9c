package cgroups

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func setCpusetV1(dir string, c *specs.LinuxCPU) error {
	if c == nil {
		return nil
	}
	if c.Cpus != "" {
		if err := writeFile(dir, "cpuset.cpus", c.Cpus); err != nil {
			return fieldErr("cpu.cpus", err)
		}
	}
	if c.Mems != "" {
		if err := writeFile(dir, "cpuset.mems", c.Mems); err != nil {
			return fieldErr("cpu.mems", err)
		}
	}
	return nil
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

func setMemoryV1(dir string, mem *specs.LinuxMemory, update bool) error {
	if mem == nil {
		return nil
	}
	if update && mem.CheckBeforeUpdate != nil && *mem.CheckBeforeUpdate && nz(mem.Limit) && *mem.Limit > 0 {
		usage, err := readUint(dir, "memory.usage_in_bytes")
		if err != nil {
			return fieldErr("memory.checkBeforeUpdate", err)
		}
		if usage > uint64(*mem.Limit) {
			return fmt.Errorf("linux.resources.memory.limit: %d is below the current usage %d (checkBeforeUpdate)", *mem.Limit, usage)
		}
	}
	if err := setMemoryAndSwapV1(dir, mem.Limit, mem.Swap); err != nil {
		return err
	}
	type opt struct {
		field, file string
		set         bool
		value       string
		optional    bool // file may be missing: deprecated kernel knobs
	}
	opts := []opt{
		{"memory.reservation", "memory.soft_limit_in_bytes", nz(mem.Reservation), deref(mem.Reservation), false},
		//lint:ignore SA1019 deprecated by the spec, still honoured by runtimes
		{"memory.kernel", "memory.kmem.limit_in_bytes", nz(mem.Kernel), deref(mem.Kernel), true},
		{"memory.kernelTCP", "memory.kmem.tcp.limit_in_bytes", nz(mem.KernelTCP), deref(mem.KernelTCP), true},
		{"memory.swappiness", "memory.swappiness", mem.Swappiness != nil, derefU(mem.Swappiness), false},
		{"memory.disableOOMKiller", "memory.oom_control", mem.DisableOOMKiller != nil, boolNum(mem.DisableOOMKiller), false},
		{"memory.useHierarchy", "memory.use_hierarchy", mem.UseHierarchy != nil, boolNum(mem.UseHierarchy), false},
	}
	for _, o := range opts {
		if !o.set || (o.optional && !fileExists(dir, o.file)) {
			continue
		}
		err := writeFile(dir, o.file, o.value)
		// Kernels that dropped kmem limits may still list the file but refuse
		// it; the spec lets runtimes ignore these fields.
		if err != nil && o.optional && errors.Is(err, unix.EOPNOTSUPP) {
			continue
		}
		if err != nil {
			return fieldErr(o.field, err)
		}
	}
	return nil
}

func deref(p *int64) string {
	if p == nil {
		return ""
	}
	return i64(*p)
}

func derefU(p *uint64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatUint(*p, 10)
}

func boolNum(p *bool) string {
	if p != nil && *p {
		return "1"
	}
	return "0"
}

// setMemoryAndSwapV1 writes memory.limit_in_bytes and memsw in the order the
// kernel accepts: memsw may never fall below the memory limit, so when the new
// memsw is at least the current memory limit it goes first (raising),
// otherwise the memory limit goes first (lowering).
func setMemoryAndSwapV1(dir string, limit, swap *int64) error {
	writeLimit := func() error {
		if !nz(limit) {
			return nil
		}
		if err := writeFile(dir, "memory.limit_in_bytes", i64(*limit)); err != nil {
			return fieldErr("memory.limit", err)
		}
		return nil
	}
	if !nz(swap) {
		return writeLimit()
	}
	if !fileExists(dir, "memory.memsw.limit_in_bytes") {
		if *swap == -1 {
			return writeLimit() // unlimited swap is what the host gives anyway
		}
		return fmt.Errorf("linux.resources.memory.swap: %d: swap accounting is off (no memory.memsw.limit_in_bytes)", *swap)
	}
	writeSwap := func() error {
		if err := writeFile(dir, "memory.memsw.limit_in_bytes", i64(*swap)); err != nil {
			return fieldErr("memory.swap", err)
		}
		return nil
	}
	cur, err := readUint(dir, "memory.limit_in_bytes")
	if err != nil {
		return fieldErr("memory.limit", err)
	}
	first, second := writeLimit, writeSwap
	if swapFirst(cur, *swap) {
		first, second = writeSwap, writeLimit
	}
	if err := first(); err != nil {
		return err
	}
	return second()
}

// swapFirst tells whether memsw must be written before the memory limit:
// true when the new memsw is no lower than the current memory limit.
func swapFirst(curLimit uint64, swap int64) bool {
	return swap == -1 || curLimit <= uint64(swap)
}

func setCPUV1(dir string, c *specs.LinuxCPU) error {
	if c == nil {
		return nil
	}
	if nzu(c.Shares) {
		if err := writeFile(dir, "cpu.shares", strconv.FormatUint(*c.Shares, 10)); err != nil {
			return fieldErr("cpu.shares", err)
		}
		// The kernel clamps shares silently; report it rather than run with
		// a weight nobody asked for.
		got, err := readUint(dir, "cpu.shares")
		if err != nil {
			return fieldErr("cpu.shares", err)
		}
		if got != *c.Shares {
			return fmt.Errorf("linux.resources.cpu.shares: invalid value %d: the kernel accepts %d-262144", *c.Shares, 2)
		}
	}
	if err := setCFSV1(dir, c); err != nil {
		return err
	}
	if err := setPairV1(dir, "cpu.rt_period_us", "cpu.rt_runtime_us", c.RealtimePeriod, c.RealtimeRuntime); err != nil {
		return err
	}
	if c.Idle != nil {
		if !fileExists(dir, "cpu.idle") {
			if *c.Idle == 0 {
				return nil
			}
			return fmt.Errorf("linux.resources.cpu.idle: cpu.idle not supported by this kernel")
		}
		if err := writeFile(dir, "cpu.idle", i64(*c.Idle)); err != nil {
			return fieldErr("cpu.idle", err)
		}
	}
	return nil
}

// setCFSV1 writes period, quota and burst. The kernel requires burst <=
// quota, so when a lower quota is refused the burst is written first.
func setCFSV1(dir string, c *specs.LinuxCPU) error {
	if nz(c.Quota) {
		// The pair goes in setPairV1's order; quota is written there.
		q := *c.Quota
		if err := setPairV1(dir, "cpu.cfs_period_us", "cpu.cfs_quota_us", c.Period, &q); err == nil {
			return writeBurst(dir, c)
		} else if c.Burst == nil || writeBurst(dir, c) != nil {
			return err
		}
		// A quota lower than the current burst is refused: the burst
		// went first, now the pair again.
		return setPairV1(dir, "cpu.cfs_period_us", "cpu.cfs_quota_us", c.Period, &q)
	}
	if err := setPairV1(dir, "cpu.cfs_period_us", "", c.Period, nil); err != nil {
		return err
	}
	return writeBurst(dir, c)
}

// setPairV1 writes a period and the time allowed in it (CFS quota or
// realtime runtime), as runc does: the period first, and when the kernel
// refuses it (EINVAL: with the current time the new ratio would exceed
// the parent's limit, or a runtime no longer fits), the time first and
// the period after it.
func setPairV1(dir, periodFile, timeFile string, period *uint64, t *int64) error {
	field := map[string]string{
		"cpu.cfs_period_us": "cpu.period", "cpu.cfs_quota_us": "cpu.quota",
		"cpu.rt_period_us": "cpu.realtimePeriod", "cpu.rt_runtime_us": "cpu.realtimeRuntime",
	}
	var retry bool
	if nzu(period) {
		err := writeFile(dir, periodFile, strconv.FormatUint(*period, 10))
		if err != nil && (!errors.Is(err, unix.EINVAL) || !nz(t)) {
			return fieldErr(field[periodFile], err)
		}
		retry = err != nil
	}
	if !nz(t) {
		return nil
	}
	if err := writeFile(dir, timeFile, i64(*t)); err != nil {
		return fieldErr(field[timeFile], err)
	}
	if retry {
		if err := writeFile(dir, periodFile, strconv.FormatUint(*period, 10)); err != nil {
			return fieldErr(field[periodFile], err)
		}
	}
	return nil
}

// writeBurst writes cpu.cfs_burst_us when the spec has a burst.
func writeBurst(dir string, c *specs.LinuxCPU) error {
	if c.Burst == nil {
		return nil
	}
	if !fileExists(dir, "cpu.cfs_burst_us") {
		if *c.Burst == 0 {
			return nil
		}
		return errors.New("linux.resources.cpu.burst: cpu.cfs_burst_us not supported by this kernel")
	}
	if err := writeFile(dir, "cpu.cfs_burst_us", strconv.FormatUint(*c.Burst, 10)); err != nil {
		return fieldErr("cpu.burst", err)
	}
	return nil
}

func setPidsV1(dir string, p *specs.LinuxPids) error {
	if p == nil || !nz(p.Limit) {
		return nil
	}
	v := "max"
	if *p.Limit > 0 {
		v = i64(*p.Limit)
	}
	if err := writeFile(dir, "pids.max", v); err != nil {
		return fieldErr("pids.limit", err)
	}
	return nil
}

// blkioFile picks the CFQ-era name when present, else the BFQ one that
// modern kernels provide.
func blkioFile(dir, name string) string {
	if fileExists(dir, "blkio."+name) {
		return "blkio." + name
	}
	return "blkio.bfq." + name
}

func devNum(d specs.LinuxBlockIODevice) string {
	return fmt.Sprintf("%d:%d", d.Major, d.Minor)
}

func setBlkioV1(dir string, b *specs.LinuxBlockIO) error {
	if b == nil {
		return nil
	}
	if nzu16(b.Weight) {
		if err := writeFile(dir, blkioFile(dir, "weight"), strconv.Itoa(int(*b.Weight))); err != nil {
			return fieldErr("blockIO.weight", err)
		}
	}
	if nzu16(b.LeafWeight) {
		if err := writeFile(dir, "blkio.leaf_weight", strconv.Itoa(int(*b.LeafWeight))); err != nil {
			return fieldErr("blockIO.leafWeight", err)
		}
	}
	for i, wd := range b.WeightDevice {
		if wd.Weight != nil {
			v := fmt.Sprintf("%s %d", devNum(wd.LinuxBlockIODevice), *wd.Weight)
			if err := writeFile(dir, blkioFile(dir, "weight_device"), v); err != nil {
				return fieldErr(fmt.Sprintf("blockIO.weightDevice[%d].weight", i), err)
			}
		}
		if wd.LeafWeight != nil {
			v := fmt.Sprintf("%s %d", devNum(wd.LinuxBlockIODevice), *wd.LeafWeight)
			if err := writeFile(dir, "blkio.leaf_weight_device", v); err != nil {
				return fieldErr(fmt.Sprintf("blockIO.weightDevice[%d].leafWeight", i), err)
			}
		}
	}
	throttles := []struct {
		field, file string
		devs        []specs.LinuxThrottleDevice
	}{
		{"throttleReadBpsDevice", "blkio.throttle.read_bps_device", b.ThrottleReadBpsDevice},
		{"throttleWriteBpsDevice", "blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevice},
		{"throttleReadIOPSDevice", "blkio.throttle.read_iops_device", b.ThrottleReadIOPSDevice},
		{"throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", b.ThrottleWriteIOPSDevice},
	}
	for _, t := range throttles {
		for i, d := range t.devs {
			v := fmt.Sprintf("%s %d", devNum(d.LinuxBlockIODevice), d.Rate)
			if err := writeFile(dir, t.file, v); err != nil {
				return fieldErr(fmt.Sprintf("blockIO.%s[%d]", t.field, i), err)
			}
		}
	}
	return nil
}

func setHugetlbV1(dir string, limits []specs.LinuxHugepageLimit) error {
	for i, h := range limits {
		field := fmt.Sprintf("hugepageLimits[%d]", i)
		file := "hugetlb." + h.Pagesize + ".limit_in_bytes"
		if !fileExists(dir, file) {
			return fmt.Errorf("linux.resources.%s: page size %q not supported by this host (no %s)", field, h.Pagesize, file)
		}
		v := strconv.FormatUint(h.Limit, 10)
		if err := writeFile(dir, file, v); err != nil {
			return fieldErr(field, err)
		}
		// Reservations are what a mapping charges first; limit both so that
		// neither path escapes.
		rsvd := "hugetlb." + h.Pagesize + ".rsvd.limit_in_bytes"
		if fileExists(dir, rsvd) {
			if err := writeFile(dir, rsvd, v); err != nil {
				return fieldErr(field, err)
			}
		}
	}
	return nil
}

func setNetClsV1(dir string, n *specs.LinuxNetwork) error {
	if n == nil || n.ClassID == nil || *n.ClassID == 0 {
		return nil
	}
	if err := writeFile(dir, "net_cls.classid", strconv.FormatUint(uint64(*n.ClassID), 10)); err != nil {
		return fieldErr("network.classID", err)
	}
	return nil
}

func setNetPrioV1(dir string, n *specs.LinuxNetwork) error {
	if n == nil {
		return nil
	}
	for i, p := range n.Priorities {
		if err := writeFile(dir, "net_prio.ifpriomap", fmt.Sprintf("%s %d", p.Name, p.Priority)); err != nil {
			return fieldErr(fmt.Sprintf("network.priorities[%d]", i), err)
		}
	}
	return nil
}

func rdmaLine(dev string, l specs.LinuxRdma) string {
	var parts []string
	if l.HcaHandles != nil {
		parts = append(parts, fmt.Sprintf("hca_handle=%d", *l.HcaHandles))
	}
	if l.HcaObjects != nil {
		parts = append(parts, fmt.Sprintf("hca_object=%d", *l.HcaObjects))
	}
	if len(parts) == 0 {
		return ""
	}
	return dev + " " + strings.Join(parts, " ")
}

func setRdmaV1(dir string, r map[string]specs.LinuxRdma) error {
	for dev, l := range r {
		line := rdmaLine(dev, l)
		if line == "" {
			continue
		}
		if err := writeFile(dir, "rdma.max", line); err != nil {
			return fieldErr(fmt.Sprintf("rdma[%s]", dev), err)
		}
	}
	return nil
}
