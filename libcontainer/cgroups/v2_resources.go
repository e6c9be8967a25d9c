package cgroups

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// v2Needs lists the set fields of r and the v2 controller each needs.
func v2Needs(r *specs.LinuxResources) []fieldNeed {
	if r == nil {
		return nil
	}
	var n []fieldNeed
	add := func(set bool, field, ctrl string) {
		if set {
			n = append(n, fieldNeed{"linux.resources." + field, ctrl})
		}
	}
	if mem := r.Memory; mem != nil {
		add(nz(mem.Limit) || nz(mem.Reservation) || nz(mem.Swap), "memory", "memory")
	}
	if c := r.CPU; c != nil {
		add(nzu(c.Shares), "cpu.shares", "cpu")
		add(nz(c.Quota), "cpu.quota", "cpu")
		add(nzu(c.Period), "cpu.period", "cpu")
		add(c.Burst != nil, "cpu.burst", "cpu")
		add(c.Idle != nil, "cpu.idle", "cpu")
		add(c.Cpus != "", "cpu.cpus", "cpuset")
		add(c.Mems != "", "cpu.mems", "cpuset")
	}
	add(r.Pids != nil && nz(r.Pids.Limit), "pids.limit", "pids")
	if b := r.BlockIO; b != nil {
		add(nzu16(b.Weight) || len(b.WeightDevice) > 0 ||
			len(b.ThrottleReadBpsDevice) > 0 || len(b.ThrottleWriteBpsDevice) > 0 ||
			len(b.ThrottleReadIOPSDevice) > 0 || len(b.ThrottleWriteIOPSDevice) > 0,
			"blockIO", "io")
	}
	add(len(r.HugepageLimits) > 0, "hugepageLimits", "hugetlb")
	add(len(r.Rdma) > 0, "rdma", "rdma")
	keys := make([]string, 0, len(r.Unified))
	for k := range r.Unified {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if ctrl, _, ok := strings.Cut(k, "."); ok && ctrl != "cgroup" {
			add(true, "unified["+k+"]", ctrl)
		}
	}
	return n
}

// checkV2Controllers fails for each set field whose controller is not in
// dir's cgroup.controllers, adding why enabling it failed when known.
func checkV2Controllers(r *specs.LinuxResources, dir string, enableErrs map[string]error) error {
	needs := v2Needs(r)
	if len(needs) == 0 {
		return nil
	}
	s, err := readFile(dir, "cgroup.controllers")
	if err != nil {
		return err
	}
	have := strings.Fields(s)
	var errs []error
	for _, n := range needs {
		if containsWord(have, n.controller) {
			continue
		}
		if e := enableErrs[n.controller]; e != nil {
			errs = append(errs, fmt.Errorf("%s: %s controller not available in %s: enabling it failed: %w", n.field, n.controller, dir, e))
		} else {
			errs = append(errs, fmt.Errorf("%s: %s controller not available in %s", n.field, n.controller, dir))
		}
	}
	return errors.Join(errs...)
}

// validateV2 adds to validateResources the fields cgroup v2 has no file for.
// memory.kernel is deprecated by the spec and ignored; useHierarchy is
// always true on v2, so only an explicit false is refused.
func validateV2(r *specs.LinuxResources) error {
	if err := validateResources(r); err != nil {
		return err
	}
	if r == nil {
		return nil
	}
	var errs []error
	unsupported := func(set bool, field string) {
		if set {
			errs = append(errs, fmt.Errorf("linux.resources.%s: not supported on cgroup v2", field))
		}
	}
	if mem := r.Memory; mem != nil {
		unsupported(nz(mem.KernelTCP), "memory.kernelTCP")
		unsupported(mem.Swappiness != nil, "memory.swappiness")
		unsupported(mem.DisableOOMKiller != nil && *mem.DisableOOMKiller, "memory.disableOOMKiller")
		unsupported(mem.UseHierarchy != nil && !*mem.UseHierarchy, "memory.useHierarchy=false")
	}
	if c := r.CPU; c != nil {
		unsupported(nz(c.RealtimeRuntime), "cpu.realtimeRuntime")
		unsupported(nzu(c.RealtimePeriod), "cpu.realtimePeriod")
		if nzu(c.Shares) && (*c.Shares < 2 || *c.Shares > 262144) {
			errs = append(errs, fmt.Errorf("linux.resources.cpu.shares: invalid value %d: must be 2-262144", *c.Shares))
		}
	}
	if b := r.BlockIO; b != nil {
		unsupported(nzu16(b.LeafWeight), "blockIO.leafWeight")
		for i, d := range b.WeightDevice {
			unsupported(d.LeafWeight != nil && *d.LeafWeight != 0, fmt.Sprintf("blockIO.weightDevice[%d].leafWeight", i))
		}
		if nzu16(b.Weight) && (*b.Weight < 10 || *b.Weight > 1000) {
			errs = append(errs, fmt.Errorf("linux.resources.blockIO.weight: invalid value %d: must be 10-1000", *b.Weight))
		}
	}
	if nw := r.Network; nw != nil {
		unsupported(nw.ClassID != nil && *nw.ClassID != 0, "network.classID")
		unsupported(len(nw.Priorities) > 0, "network.priorities")
	}
	for k := range r.Unified {
		if err := checkUnifiedKey(k); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkUnifiedKey admits only a file name of the cgroup's own directory, so
// a key cannot reach another cgroup or outside the hierarchy.
func checkUnifiedKey(k string) error {
	if k == "" || strings.ContainsAny(k, "/\x00") || k == "." || k == ".." {
		return fmt.Errorf("linux.resources.unified[%q]: not a cgroup file name", k)
	}
	if ctrl, file, ok := strings.Cut(k, "."); !ok || ctrl == "" || file == "" {
		return fmt.Errorf("linux.resources.unified[%q]: want <controller>.<file>", k)
	}
	return nil
}

// v2Write is one value for one control file, and the spec field it serves.
type v2Write struct {
	field, file, value string
}

// setV2 writes r into dir: the structured fields first, then unified, whose
// values win where both name the same file (runc's order).
func setV2(dir string, r *specs.LinuxResources, update bool) error {
	if r == nil {
		return nil
	}
	steps := []func() ([]v2Write, error){
		func() ([]v2Write, error) { return cpusetWritesV2(r.CPU), nil },
		func() ([]v2Write, error) { return memoryWritesV2(dir, r.Memory, update) },
		func() ([]v2Write, error) { return pidsWritesV2(r.Pids), nil },
		func() ([]v2Write, error) { return ioWritesV2(dir, r.BlockIO), nil },
		func() ([]v2Write, error) { return hugetlbWritesV2(dir, r.HugepageLimits), nil },
		func() ([]v2Write, error) { return rdmaWritesV2(r.Rdma), nil },
	}
	for _, step := range steps {
		ws, err := step()
		if err != nil {
			return err
		}
		if err := writeAllV2(dir, ws); err != nil {
			return err
		}
	}
	if err := setCPUV2(dir, r.CPU); err != nil {
		return err
	}
	return writeAllV2(dir, unifiedWritesV2(r.Unified))
}

func writeAllV2(dir string, ws []v2Write) error {
	for _, w := range ws {
		if err := writeFile(dir, w.file, w.value); err != nil {
			return fieldErr(w.field, err)
		}
	}
	return nil
}

func cpusetWritesV2(c *specs.LinuxCPU) []v2Write {
	if c == nil {
		return nil
	}
	var ws []v2Write
	if c.Cpus != "" {
		ws = append(ws, v2Write{"cpu.cpus", "cpuset.cpus", c.Cpus})
	}
	if c.Mems != "" {
		ws = append(ws, v2Write{"cpu.mems", "cpuset.mems", c.Mems})
	}
	return ws
}

// maxOr renders a v2 limit: -1 is "max".
func maxOr(v int64) string {
	if v == -1 {
		return "max"
	}
	return i64(v)
}

func memoryWritesV2(dir string, mem *specs.LinuxMemory, update bool) ([]v2Write, error) {
	if mem == nil {
		return nil, nil
	}
	if update && mem.CheckBeforeUpdate != nil && *mem.CheckBeforeUpdate && nz(mem.Limit) && *mem.Limit > 0 {
		usage, err := readUint(dir, "memory.current")
		if err != nil {
			return nil, fieldErr("memory.checkBeforeUpdate", err)
		}
		if usage > uint64(*mem.Limit) {
			return nil, fmt.Errorf("linux.resources.memory.limit: %d is below the current usage %d (checkBeforeUpdate)", *mem.Limit, usage)
		}
	}
	var ws []v2Write
	if nz(mem.Limit) {
		ws = append(ws, v2Write{"memory.limit", "memory.max", maxOr(*mem.Limit)})
	}
	if nz(mem.Reservation) {
		ws = append(ws, v2Write{"memory.reservation", "memory.low", maxOr(*mem.Reservation)})
	}
	sw, err := swapWriteV2(dir, mem, update)
	if err != nil || sw == nil {
		return ws, err
	}
	return append(ws, *sw), nil
}

// swapWriteV2 converts the spec's memory+swap total into memory.swap.max,
// which counts swap alone. An update that sets only swap is converted
// against the limit in force.
func swapWriteV2(dir string, mem *specs.LinuxMemory, update bool) (*v2Write, error) {
	limit := int64(0)
	if mem.Limit != nil {
		limit = *mem.Limit
	}
	if limit == 0 && update && nz(mem.Swap) {
		cur, err := readUint(dir, "memory.max")
		if err != nil {
			return nil, fieldErr("memory.swap", err)
		}
		limit = -1
		if cur != ^uint64(0) {
			limit = int64(cur)
		}
	}
	swap := int64(0)
	if mem.Swap != nil {
		swap = *mem.Swap
	}
	v, set, err := swapV2(swap, limit)
	if err != nil {
		return nil, fmt.Errorf("linux.resources.memory.swap: %d: %w", swap, err)
	}
	if !set {
		return nil, nil
	}
	if !fileExists(dir, "memory.swap.max") {
		if v == -1 {
			return nil, nil // no swap accounting: unlimited is what the host gives
		}
		return nil, fmt.Errorf("linux.resources.memory.swap: %d: swap accounting is off (no memory.swap.max)", swap)
	}
	return &v2Write{"memory.swap", "memory.swap.max", maxOr(v)}, nil
}

// swapV2 maps (memory+swap, memory) to a swap-only limit, -1 for "max".
// Unset swap with unlimited memory means unlimited swap too, as on v1 where
// memsw follows the memory limit.
func swapV2(swap, limit int64) (v int64, set bool, err error) {
	switch {
	case swap == 0 && limit == -1:
		return -1, true, nil
	case swap == 0:
		return 0, false, nil
	case swap == -1:
		return -1, true, nil
	case limit <= 0:
		return 0, false, errors.New("a swap limit needs a memory limit")
	case swap < limit:
		return 0, false, fmt.Errorf("memory+swap must be >= memory.limit (%d)", limit)
	}
	return swap - limit, true, nil
}

func pidsWritesV2(p *specs.LinuxPids) []v2Write {
	if p == nil || !nz(p.Limit) {
		return nil
	}
	v := "max"
	if *p.Limit > 0 {
		v = i64(*p.Limit)
	}
	return []v2Write{{"pids.limit", "pids.max", v}}
}

// sharesToWeight maps cpu.shares [2, 262144] linearly onto cpu.weight
// [1, 10000], the conversion runc 1.1 and crun apply.
func sharesToWeight(shares uint64) uint64 {
	return 1 + (shares-2)*9999/262142
}

// blkioToIOWeight maps blkio.weight [10, 1000] onto io.weight [1, 10000].
func blkioToIOWeight(w uint16) uint64 {
	return 1 + (uint64(w)-10)*9999/990
}

func hugetlbWritesV2(dir string, limits []specs.LinuxHugepageLimit) []v2Write {
	var ws []v2Write
	for i, l := range limits {
		field := fmt.Sprintf("hugepageLimits[%d]", i)
		v := strconv.FormatUint(l.Limit, 10)
		ws = append(ws, v2Write{field, "hugetlb." + l.Pagesize + ".max", v})
		// Reservations are charged separately (Linux 5.7+); limiting only
		// faults would let mmap reserve past the limit.
		if fileExists(dir, "hugetlb."+l.Pagesize+".rsvd.max") {
			ws = append(ws, v2Write{field, "hugetlb." + l.Pagesize + ".rsvd.max", v})
		}
	}
	return ws
}

func rdmaWritesV2(r map[string]specs.LinuxRdma) []v2Write {
	devs := make([]string, 0, len(r))
	for d := range r {
		devs = append(devs, d)
	}
	sort.Strings(devs)
	var ws []v2Write
	for _, d := range devs {
		if line := rdmaLine(d, r[d]); line != "" {
			ws = append(ws, v2Write{"rdma[" + d + "]", "rdma.max", line})
		}
	}
	return ws
}

func unifiedWritesV2(u map[string]string) []v2Write {
	keys := make([]string, 0, len(u))
	for k := range u {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var ws []v2Write
	for _, k := range keys {
		ws = append(ws, v2Write{"unified[" + k + "]", k, u[k]})
	}
	return ws
}
