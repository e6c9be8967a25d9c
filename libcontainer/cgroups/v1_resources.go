package cgroups

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fieldNeed pairs a spec field that is set with the v1 controller it needs.
type fieldNeed struct {
	field, controller string
}

// v1Needs lists the set (non-nil, non-zero) fields of r and their controllers.
func v1Needs(r *specs.LinuxResources) []fieldNeed {
	if r == nil {
		return nil
	}
	var n []fieldNeed
	add := func(set bool, field, ctrl string) {
		if set {
			n = append(n, fieldNeed{"linux.resources." + field, ctrl})
		}
	}
	add(len(r.Devices) > 0, "devices", "devices")
	if mem := r.Memory; mem != nil {
		//lint:ignore SA1019 deprecated by the spec, still honoured by runtimes
		add(nz(mem.Limit) || nz(mem.Reservation) || nz(mem.Swap) || nz(mem.Kernel) ||
			nz(mem.KernelTCP) || mem.Swappiness != nil || mem.DisableOOMKiller != nil ||
			mem.UseHierarchy != nil, "memory", "memory")
	}
	if c := r.CPU; c != nil {
		add(nzu(c.Shares), "cpu.shares", "cpu")
		add(nz(c.Quota), "cpu.quota", "cpu")
		add(nzu(c.Period), "cpu.period", "cpu")
		add(nzu(c.Burst), "cpu.burst", "cpu")
		add(nz(c.RealtimeRuntime), "cpu.realtimeRuntime", "cpu")
		add(nzu(c.RealtimePeriod), "cpu.realtimePeriod", "cpu")
		add(nz(c.Idle), "cpu.idle", "cpu")
		add(c.Cpus != "", "cpu.cpus", "cpuset")
		add(c.Mems != "", "cpu.mems", "cpuset")
	}
	add(r.Pids != nil && nz(r.Pids.Limit), "pids.limit", "pids")
	if b := r.BlockIO; b != nil {
		add(nzu16(b.Weight) || nzu16(b.LeafWeight) || len(b.WeightDevice) > 0 ||
			len(b.ThrottleReadBpsDevice) > 0 || len(b.ThrottleWriteBpsDevice) > 0 ||
			len(b.ThrottleReadIOPSDevice) > 0 || len(b.ThrottleWriteIOPSDevice) > 0,
			"blockIO", "blkio")
	}
	add(len(r.HugepageLimits) > 0, "hugepageLimits", "hugetlb")
	if nw := r.Network; nw != nil {
		add(nw.ClassID != nil && *nw.ClassID != 0, "network.classID", "net_cls")
		add(len(nw.Priorities) > 0, "network.priorities", "net_prio")
	}
	add(len(r.Rdma) > 0, "rdma", "rdma")
	return n
}

func nz(p *int64) bool     { return p != nil && *p != 0 }
func nzu(p *uint64) bool   { return p != nil && *p != 0 }
func nzu16(p *uint16) bool { return p != nil && *p != 0 }

func checkV1Controllers(r *specs.LinuxResources, paths map[string]string) error {
	var errs []error
	for _, n := range v1Needs(r) {
		if _, ok := paths[n.controller]; !ok {
			errs = append(errs, fmt.Errorf("%s: %s controller not mounted", n.field, n.controller))
		}
	}
	if r != nil && len(r.Unified) > 0 {
		errs = append(errs, errors.New("invalid configuration: linux.resources.unified: cannot use unified on cgroup v1 (this host runs cgroup v1)"))
	}
	return errors.Join(errs...)
}

// validateResources rejects values no kernel accepts, naming the field, before
// anything is written.
func validateResources(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	var errs []error
	bad := func(field string, v any, why string) {
		errs = append(errs, fmt.Errorf("linux.resources.%s: invalid value %v: %s", field, v, why))
	}
	if mem := r.Memory; mem != nil {
		for _, f := range []struct {
			name string
			v    *int64
		}{{"memory.limit", mem.Limit}, {"memory.reservation", mem.Reservation},
			//lint:ignore SA1019 deprecated by the spec, still honoured by runtimes
			{"memory.swap", mem.Swap}, {"memory.kernel", mem.Kernel}, {"memory.kernelTCP", mem.KernelTCP}} {
			if f.v != nil && *f.v < -1 {
				bad(f.name, *f.v, "must be -1 (unlimited) or a byte count")
			}
		}
		if nz(mem.Limit) && nz(mem.Swap) && *mem.Limit > 0 && *mem.Swap > 0 && *mem.Swap < *mem.Limit {
			bad("memory.swap", *mem.Swap, fmt.Sprintf("memory+swap must be >= memory.limit (%d)", *mem.Limit))
		}
		if mem.Swappiness != nil && *mem.Swappiness > 100 {
			bad("memory.swappiness", *mem.Swappiness, "must be 0-100")
		}
	}
	if c := r.CPU; c != nil {
		if c.Quota != nil && *c.Quota < -1 {
			bad("cpu.quota", *c.Quota, "must be -1 (unlimited) or microseconds")
		}
		if c.Idle != nil && *c.Idle != 0 && *c.Idle != 1 {
			bad("cpu.idle", *c.Idle, "must be 0 or 1")
		}
	}
	for i, h := range r.HugepageLimits {
		if _, err := hugePageSize(h.Pagesize); err != nil {
			bad(fmt.Sprintf("hugepageLimits[%d].pageSize", i), strconv.Quote(h.Pagesize), err.Error())
		}
	}
	for i, d := range r.Devices {
		if _, err := deviceRule(d); err != nil {
			errs = append(errs, fmt.Errorf("linux.resources.devices[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// hugePageSize checks "<n><K|M|G>B" as hugetlb file names spell sizes.
func hugePageSize(s string) (string, error) {
	if len(s) < 3 || !strings.HasSuffix(s, "B") || !strings.ContainsRune("KMG", rune(s[len(s)-2])) {
		return "", errors.New(`want a size like "2MB" or "1GB"`)
	}
	if _, err := strconv.ParseUint(s[:len(s)-2], 10, 32); err != nil {
		return "", errors.New(`want a size like "2MB" or "1GB"`)
	}
	return s, nil
}

// deviceRule formats a devices cgroup rule as v1's devices.allow/deny expect.
func deviceRule(d specs.LinuxDeviceCgroup) (string, error) {
	typ := d.Type
	if typ == "" {
		typ = "a"
	}
	if typ != "a" && typ != "b" && typ != "c" {
		return "", fmt.Errorf("type %q: want a, b or c", d.Type)
	}
	access := d.Access
	if access == "" {
		access = "rwm"
	}
	if strings.Trim(access, "rwm") != "" || len(access) > 3 {
		return "", fmt.Errorf("access %q: want letters from rwm", d.Access)
	}
	num := func(p *int64, what string) (string, error) {
		if p == nil || *p == -1 {
			return "*", nil
		}
		if *p < 0 {
			return "", fmt.Errorf("%s %d: must be >= 0 or -1 for any", what, *p)
		}
		return strconv.FormatInt(*p, 10), nil
	}
	maj, err := num(d.Major, "major")
	if err != nil {
		return "", err
	}
	min, err := num(d.Minor, "minor")
	if err != nil {
		return "", err
	}
	if typ == "a" {
		// The kernel reads "a" as every device with every access and ignores
		// the rest; a partial "a" rule cannot be expressed in v1.
		return "a", nil
	}
	return fmt.Sprintf("%s %s:%s %s", typ, maj, min, access), nil
}

// set writes r into the hierarchies; update marks `hull update`, where
// checkBeforeUpdate applies.
func (m *v1Manager) set(r *specs.LinuxResources, update bool) error {
	if r == nil {
		return nil
	}
	steps := []struct {
		ctrl string
		fn   func(dir string) error
	}{
		{"cpuset", func(d string) error { return setCpusetV1(d, r.CPU) }},
		{"memory", func(d string) error { return setMemoryV1(d, r.Memory, update) }},
		{"cpu", func(d string) error { return setCPUV1(d, r.CPU) }},
		{"pids", func(d string) error { return setPidsV1(d, r.Pids) }},
		{"blkio", func(d string) error { return setBlkioV1(d, r.BlockIO) }},
		{"hugetlb", func(d string) error { return setHugetlbV1(d, r.HugepageLimits) }},
		{"net_cls", func(d string) error { return setNetClsV1(d, r.Network) }},
		{"net_prio", func(d string) error { return setNetPrioV1(d, r.Network) }},
		{"rdma", func(d string) error { return setRdmaV1(d, r.Rdma) }},
		{"devices", func(d string) error { return setDevicesV1(d, r.Devices) }},
	}
	for _, s := range steps {
		dir, ok := m.paths[s.ctrl]
		if !ok {
			continue // checkV1Controllers already rejected set fields
		}
		if err := s.fn(dir); err != nil {
			return err
		}
	}
	return nil
}

// fieldErr names the spec field a failed write came from.
func fieldErr(field string, err error) error {
	return fmt.Errorf("linux.resources.%s: %w", field, err)
}
