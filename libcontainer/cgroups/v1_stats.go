package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// userHz is the unit of cpuacct.stat; the kernel fixes USER_HZ at 100 on
// every architecture Linux exports it for.
const userHz = 100

func (m *v1Manager) Stats() (*Stats, error) {
	s := &Stats{Hugetlb: map[string]Hugetlb{}}
	steps := []struct {
		ctrl string
		fn   func(dir string, s *Stats) error
	}{
		{"cpu", cpuStatsV1},
		{"cpuacct", cpuacctStatsV1},
		{"memory", memoryStatsV1},
		{"pids", pidsStatsV1},
		{"blkio", blkioStatsV1},
		{"hugetlb", hugetlbStatsV1},
	}
	for _, st := range steps {
		dir, ok := m.paths[st.ctrl]
		if !ok {
			continue
		}
		if err := st.fn(dir, s); err != nil {
			return nil, fmt.Errorf("%s stats: %w", st.ctrl, err)
		}
	}
	return s, nil
}

func cpuStatsV1(dir string, s *Stats) error {
	kv, err := readKeyValues(dir, "cpu.stat")
	if err != nil {
		return err
	}
	s.CPU.Throttling = Throttling{
		Periods:          kv["nr_periods"],
		ThrottledPeriods: kv["nr_throttled"],
		ThrottledTime:    kv["throttled_time"],
	}
	return nil
}

func cpuacctStatsV1(dir string, s *Stats) error {
	var err error
	if s.CPU.Usage.Total, err = readUint(dir, "cpuacct.usage"); err != nil {
		return err
	}
	if s.CPU.Usage.Percpu, err = readUints(dir, "cpuacct.usage_percpu"); err != nil {
		return err
	}
	if fileExists(dir, "cpuacct.usage_user") {
		// Nanosecond counters, more exact than the tick-based cpuacct.stat.
		if s.CPU.Usage.User, err = readUint(dir, "cpuacct.usage_user"); err != nil {
			return err
		}
		if s.CPU.Usage.Kernel, err = readUint(dir, "cpuacct.usage_sys"); err != nil {
			return err
		}
		if s.CPU.Usage.PercpuUser, err = readUints(dir, "cpuacct.usage_percpu_user"); err != nil {
			return err
		}
		s.CPU.Usage.PercpuKernel, err = readUints(dir, "cpuacct.usage_percpu_sys")
		return err
	}
	kv, err := readKeyValues(dir, "cpuacct.stat")
	if err != nil {
		return err
	}
	s.CPU.Usage.User = kv["user"] * (1e9 / userHz)
	s.CPU.Usage.Kernel = kv["system"] * (1e9 / userHz)
	return nil
}

func readUints(dir, name string) ([]uint64, error) {
	s, err := readFile(dir, name)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, f := range strings.Fields(s) {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, name), err)
		}
		out = append(out, v)
	}
	return out, nil
}

func memoryEntryV1(dir, prefix string) (MemoryEntry, error) {
	var e MemoryEntry
	if !fileExists(dir, prefix+".limit_in_bytes") {
		return e, nil // e.g. memsw without swap accounting
	}
	for _, f := range []struct {
		name string
		dst  *uint64
	}{{"limit_in_bytes", &e.Limit}, {"usage_in_bytes", &e.Usage},
		{"max_usage_in_bytes", &e.Max}, {"failcnt", &e.Failcnt}} {
		v, err := readUint(dir, prefix+"."+f.name)
		if err != nil {
			return e, err
		}
		*f.dst = v
	}
	return e, nil
}

func memoryStatsV1(dir string, s *Stats) error {
	raw, err := readKeyValues(dir, "memory.stat")
	if err != nil {
		return err
	}
	s.Memory.Raw = raw
	s.Memory.Cache = raw["cache"]
	for _, e := range []struct {
		prefix string
		dst    *MemoryEntry
	}{{"memory", &s.Memory.Usage}, {"memory.memsw", &s.Memory.Swap},
		{"memory.kmem", &s.Memory.Kernel}, {"memory.kmem.tcp", &s.Memory.KernelTCP}} {
		if *e.dst, err = memoryEntryV1(dir, e.prefix); err != nil {
			return err
		}
	}
	return nil
}

func pidsStatsV1(dir string, s *Stats) error {
	cur, err := readUint(dir, "pids.current")
	if err != nil {
		return err
	}
	max, err := readUint(dir, "pids.max")
	if err != nil {
		return err
	}
	s.Pids.Current = cur
	if max != ^uint64(0) {
		s.Pids.Limit = max
	}
	return nil
}

func blkioStatsV1(dir string, s *Stats) error {
	// CFQ counters where present, else BFQ's, else the throttle layer's,
	// which counts I/O under every scheduler.
	prefix := "blkio.throttle."
	for _, p := range []string{"blkio.", "blkio.bfq."} {
		if fileExists(dir, p+"io_service_bytes_recursive") {
			prefix = p
			break
		}
	}
	files := []struct {
		name string
		dst  *[]BlkioEntry
	}{{"io_service_bytes_recursive", &s.Blkio.IoServiceBytesRecursive},
		{"io_serviced_recursive", &s.Blkio.IoServicedRecursive},
		{"io_queued_recursive", &s.Blkio.IoQueuedRecursive},
		{"io_service_time_recursive", &s.Blkio.IoServiceTimeRecursive},
		{"io_wait_time_recursive", &s.Blkio.IoWaitTimeRecursive},
		{"io_merged_recursive", &s.Blkio.IoMergedRecursive},
		{"time_recursive", &s.Blkio.IoTimeRecursive},
		{"sectors_recursive", &s.Blkio.SectorsRecursive}}
	for _, f := range files {
		txt, err := readFile(dir, prefix+f.name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		*f.dst = parseBlkioEntries(txt)
	}
	return nil
}

func hugetlbStatsV1(dir string, s *Stats) error {
	sizes, err := hugePageSizes(dir, ".limit_in_bytes")
	if err != nil {
		return err
	}
	for _, size := range sizes {
		var h Hugetlb
		if h.Usage, err = readUint(dir, "hugetlb."+size+".usage_in_bytes"); err != nil {
			return err
		}
		if h.Max, err = readUint(dir, "hugetlb."+size+".max_usage_in_bytes"); err != nil {
			return err
		}
		if h.Failcnt, err = readUint(dir, "hugetlb."+size+".failcnt"); err != nil {
			return err
		}
		s.Hugetlb[size] = h
	}
	return nil
}

func (m *v1Manager) OOMKillCount() (uint64, error) {
	dir, ok := m.paths["memory"]
	if !ok {
		return 0, errors.New("memory controller not mounted")
	}
	kv, err := readKeyValues(dir, "memory.oom_control")
	if err != nil {
		return 0, err
	}
	return kv["oom_kill"], nil
}

// NotifyOOM registers an eventfd on memory.oom_control through
// cgroup.event_control. The kernel also signals the eventfd when the cgroup
// is removed; that is told apart by the directory being gone.
func (m *v1Manager) NotifyOOM(done <-chan struct{}) (<-chan struct{}, error) {
	dir, ok := m.paths["memory"]
	if !ok {
		return nil, errors.New("memory controller not mounted")
	}
	ctl, err := os.Open(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		return nil, fmt.Errorf("open oom_control: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		ctl.Close()
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	reg := fmt.Sprintf("%d %d", efd, ctl.Fd())
	if err := writeFile(dir, "cgroup.event_control", reg); err != nil {
		unix.Close(efd)
		ctl.Close()
		return nil, err
	}
	ch := make(chan struct{}, 1)
	go watchEventfd(efd, ctl, dir, ch, done)
	return ch, nil
}
