package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Stats reads what each enabled controller reports; a controller that is not
// enabled in the cgroup leaves its part zero. cpu.stat exists without the
// cpu controller (usage only).
func (m *v2Manager) Stats() (*Stats, error) {
	s := &Stats{Hugetlb: map[string]Hugetlb{}}
	steps := []struct {
		file string // present when the part can be read
		fn   func(dir string, s *Stats) error
	}{
		{"cpu.stat", cpuStatsV2},
		{"memory.current", memoryStatsV2},
		{"pids.current", pidsStatsV1}, // same files, same format
		{"io.stat", ioStatsV2},
		{"hugetlb", hugetlbStatsV2},
	}
	for _, st := range steps {
		if st.file != "hugetlb" && !fileExists(m.dir, st.file) {
			continue
		}
		if err := st.fn(m.dir, s); err != nil {
			return nil, fmt.Errorf("%s stats: %w", strings.Split(st.file, ".")[0], err)
		}
	}
	return s, nil
}

func cpuStatsV2(dir string, s *Stats) error {
	kv, err := readKeyValues(dir, "cpu.stat")
	if err != nil {
		return err
	}
	// v2 counts in microseconds; the Stats shapes are runc's nanoseconds.
	s.CPU.Usage.Total = kv["usage_usec"] * 1000
	s.CPU.Usage.User = kv["user_usec"] * 1000
	s.CPU.Usage.Kernel = kv["system_usec"] * 1000
	s.CPU.Throttling = Throttling{
		Periods:          kv["nr_periods"],
		ThrottledPeriods: kv["nr_throttled"],
		ThrottledTime:    kv["throttled_usec"] * 1000,
	}
	return nil
}

// memoryStatsV2 fills the v1-shaped entries as runc does on v2: Swap is
// memory plus swap, as v1's memsw was, so consumers need not care.
func memoryStatsV2(dir string, s *Stats) error {
	raw, err := readKeyValues(dir, "memory.stat")
	if err != nil {
		return err
	}
	s.Memory.Raw = raw
	s.Memory.Cache = raw["file"]
	u := &s.Memory.Usage
	if u.Usage, err = readUint(dir, "memory.current"); err != nil {
		return err
	}
	if u.Limit, err = readUint(dir, "memory.max"); err != nil {
		return err
	}
	if fileExists(dir, "memory.peak") {
		if u.Max, err = readUint(dir, "memory.peak"); err != nil {
			return err
		}
	}
	ev, err := readKeyValues(dir, "memory.events")
	if err != nil {
		return err
	}
	u.Failcnt = ev["max"]
	if !fileExists(dir, "memory.swap.current") {
		return nil
	}
	sw := &s.Memory.Swap
	if sw.Usage, err = readUint(dir, "memory.swap.current"); err != nil {
		return err
	}
	if sw.Limit, err = readUint(dir, "memory.swap.max"); err != nil {
		return err
	}
	sw.Usage += u.Usage
	if sw.Limit != ^uint64(0) && u.Limit != ^uint64(0) {
		sw.Limit += u.Limit
	} else {
		sw.Limit = ^uint64(0)
	}
	return nil
}

// ioStatsV2 turns io.stat's "maj:min rbytes=.. wbytes=.. rios=.. wios=.."
// lines into the v1-shaped service bytes and serviced entries.
func ioStatsV2(dir string, s *Stats) error {
	txt, err := readFile(dir, "io.stat")
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(strings.NewReader(txt))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		ma, mi, ok := strings.Cut(f[0], ":")
		maj, err1 := strconv.ParseUint(ma, 10, 64)
		min, err2 := strconv.ParseUint(mi, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			continue
		}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				continue
			}
			e := BlkioEntry{Major: maj, Minor: min, Value: n}
			switch k {
			case "rbytes", "wbytes":
				e.Op = opName(k)
				s.Blkio.IoServiceBytesRecursive = append(s.Blkio.IoServiceBytesRecursive, e)
			case "rios", "wios":
				e.Op = opName(k)
				s.Blkio.IoServicedRecursive = append(s.Blkio.IoServicedRecursive, e)
			}
		}
	}
	return nil
}

func opName(k string) string {
	if k[0] == 'r' {
		return "Read"
	}
	return "Write"
}

func hugetlbStatsV2(dir string, s *Stats) error {
	sizes, err := hugePageSizes(dir, ".current")
	if err != nil {
		return err
	}
	for _, size := range sizes {
		var h Hugetlb
		if h.Usage, err = readUint(dir, "hugetlb."+size+".current"); err != nil {
			return err
		}
		ev, err := readKeyValues(dir, "hugetlb."+size+".events")
		if err != nil {
			return err
		}
		h.Failcnt = ev["max"]
		s.Hugetlb[size] = h
	}
	return nil
}

// OOMKillCount reads oom_kill from memory.events, which counts the
// cgroup's descendants too (unless the host mounted with memory_localevents).
func (m *v2Manager) OOMKillCount() (uint64, error) {
	kv, err := readKeyValues(m.dir, "memory.events")
	if err != nil {
		return 0, err
	}
	return kv["oom_kill"], nil
}

// NotifyOOM watches memory.events with inotify (the kernel reports a
// modification on each event) and sends when the oom or oom_kill count
// grows. The channel closes when done closes or the cgroup is removed.
func (m *v2Manager) NotifyOOM(done <-chan struct{}) (<-chan struct{}, error) {
	file := filepath.Join(m.dir, "memory.events")
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify_init: %w", err)
	}
	if _, err := unix.InotifyAddWatch(fd, file, unix.IN_MODIFY|unix.IN_DELETE_SELF); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watch %s: %w", file, err)
	}
	last, err := readKeyValues(m.dir, "memory.events")
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	ch := make(chan struct{}, 1)
	go watchMemoryEvents(fd, m.dir, last, ch, done)
	return ch, nil
}

func watchMemoryEvents(fd int, dir string, last map[string]uint64, ch chan<- struct{}, done <-chan struct{}) {
	defer close(ch)
	defer unix.Close(fd)
	buf := make([]byte, 4096)
	for {
		select {
		case <-done:
			return
		default:
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 100)
		if errors.Is(err, unix.EINTR) || (err == nil && n == 0) {
			// Timeouts also re-check the directory: a removed cgroup
			// does not always send IN_DELETE_SELF through kernfs.
			if _, serr := os.Stat(dir); serr != nil {
				return
			}
			continue
		}
		if err != nil {
			return
		}
		if _, err := unix.Read(fd, buf); err != nil && !errors.Is(err, unix.EAGAIN) {
			return
		}
		cur, err := readKeyValues(dir, "memory.events")
		if err != nil {
			return // removed
		}
		if cur["oom"] > last["oom"] || cur["oom_kill"] > last["oom_kill"] {
			select {
			case ch <- struct{}{}:
			default: // one pending notice is enough to tell a reader to look
			}
		}
		last = cur
	}
}
