package engines

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// engineLock serialises engine suites on this machine: their daemons,
// shims and containers take most of it, and some share host directories
// (the runc shim's /run/containerd).
const engineLock = "/tmp/hull-engines.lock"

// TestMain takes the engine lock, unless an ancestor (flock(1) in make
// test-engines, or a person's shell) already holds it.
func TestMain(m *testing.M) {
	f, err := os.OpenFile(engineLock, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		fmt.Fprintf(os.Stderr, "engines: open %s: %v\n", engineLock, err)
		os.Exit(1)
	}
	if !heldByAncestor(f) {
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			fmt.Fprintf(os.Stderr, "engines: lock %s: %v\n", engineLock, err)
			os.Exit(1)
		}
	}
	fresh := absentPaths(sharedHostPaths)
	freshDirs := absentPaths(sharedHostDirs)
	code := m.Run()
	if err := removeFresh(fresh, freshDirs); err != nil {
		fmt.Fprintf(os.Stderr, "engines: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	f.Close()
	os.Exit(code)
}

// heldByAncestor reports whether /proc/locks shows a flock on f's inode
// held by this process's parent, grandparent, and so on.
func heldByAncestor(f *os.File) bool {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	locks, err := os.Open("/proc/locks")
	if err != nil {
		return false
	}
	defer locks.Close()
	ancestors := ancestorPids()
	sc := bufio.NewScanner(locks)
	for sc.Scan() {
		// "1: FLOCK  ADVISORY  WRITE 28821 fe:00:9993634 0 EOF"; waiters
		// have "->" before FLOCK.
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] != "FLOCK" {
			continue
		}
		dev := strings.Split(fields[5], ":")
		if len(dev) != 3 || dev[2] != strconv.FormatUint(st.Ino, 10) {
			continue
		}
		maj, _ := strconv.ParseUint(dev[0], 16, 32)
		mnr, _ := strconv.ParseUint(dev[1], 16, 32)
		if unix.Mkdev(uint32(maj), uint32(mnr)) != st.Dev {
			continue
		}
		if pid, err := strconv.Atoi(fields[4]); err == nil && ancestors[pid] {
			return true
		}
	}
	return false
}

func ancestorPids() map[int]bool {
	out := map[int]bool{}
	pid := os.Getppid()
	for pid > 1 && !out[pid] {
		out[pid] = true
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			break
		}
		// The ppid follows the parenthesised command name.
		rest := string(data[strings.LastIndexByte(string(data), ')')+1:])
		f := strings.Fields(rest)
		if len(f) < 2 {
			break
		}
		pid, _ = strconv.Atoi(f[1])
	}
	return out
}
