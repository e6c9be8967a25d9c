package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/mountinfo"
)

const unifiedControllers = "/sys/fs/cgroup/unified/cgroup.controllers"

// cgroupMounts lists the mount points of every cgroup v1 and v2 hierarchy.
func cgroupMounts() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("open mountinfo: %w", err)
	}
	defer f.Close()
	var mnts []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// Fields after the " - " separator: fstype source options.
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields, postFields := strings.Fields(pre), strings.Fields(post)
		if len(fields) < 5 || len(postFields) < 1 {
			continue
		}
		if postFields[0] == "cgroup" || postFields[0] == "cgroup2" {
			mnts = append(mnts, mountinfo.Unescape(fields[4]))
		}
	}
	return mnts, sc.Err()
}

// cgroupDirs returns every directory of the cgroup subtree rel (absolute,
// like /hull-bench-x) in every hierarchy, deepest first, ready for rmdir.
func cgroupDirs(rel string) []string {
	mnts, _ := cgroupMounts()
	var dirs []string
	for _, m := range mnts {
		top := filepath.Join(m, rel)
		_ = filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
	}
	sort.Slice(dirs, func(i, j int) bool {
		return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/")
	})
	return dirs
}

// killCgroupProcs SIGKILLs every process in the subtree. Only the bench's
// own cgroups are passed here, so every pid found is a container it started.
func killCgroupProcs(dirs []string) int {
	killed := 0
	for _, d := range dirs {
		raw, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(raw)) {
			pid, err := strconv.Atoi(f)
			if err == nil && pid > 1 && unix.Kill(pid, unix.SIGKILL) == nil {
				killed++
			}
		}
	}
	return killed
}

// removeCgroupTree kills what is left in the bench's cgroups and removes
// them. rmdir can fail with EBUSY while killed tasks are still exiting.
func removeCgroupTree(rel string) error {
	var errs []error
	deadline := time.Now().Add(5 * time.Second)
	for {
		dirs := cgroupDirs(rel)
		if len(dirs) == 0 {
			return nil
		}
		killCgroupProcs(dirs)
		reapChildren()
		errs = errs[:0]
		for _, d := range dirs {
			if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("rmdir %s: %w", d, err))
			}
		}
		if len(errs) == 0 || time.Now().After(deadline) {
			return errors.Join(errs...)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// reapChildren collects exited children without blocking. The bench is a
// child subreaper, so container inits whose runtime exited end up here.
// Call it only while no exec.Cmd of ours is running.
func reapChildren() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

// killOwnChildren SIGKILLs the bench's remaining direct children: container
// processes reparented to this subreaper that escaped their cgroup.
func killOwnChildren() int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", os.Getpid()))
	killed := 0
	for _, t := range tasks {
		raw, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(raw)) {
			if pid, err := strconv.Atoi(f); err == nil && unix.Kill(pid, unix.SIGKILL) == nil {
				killed++
			}
		}
	}
	if killed > 0 {
		time.Sleep(50 * time.Millisecond)
		reapChildren()
	}
	return killed
}

// pidWaiter waits for a process that is not necessarily our child (a
// container init after its runtime exited) through a pidfd, so a recycled
// pid can never be mistaken for it.
type pidWaiter struct{ fd int }

func openPidWaiter(pid int) (*pidWaiter, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	return &pidWaiter{fd: fd}, nil
}

// wait blocks until the process exits, then reaps it if it is our child.
func (w *pidWaiter) wait(timeout time.Duration) error {
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("process did not exit within %s", timeout)
		}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("poll pidfd: %w", err)
		}
		if n > 0 {
			break
		}
	}
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PIDFD, w.fd, &info, unix.WEXITED|unix.WNOHANG, nil)
	if err != nil && !errors.Is(err, unix.ECHILD) {
		return fmt.Errorf("waitid pidfd: %w", err)
	}
	return nil
}

func (w *pidWaiter) close() { unix.Close(w.fd) }

// cgroupMode describes the host's cgroup layout for the header.
func cgroupMode() string {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return fmt.Sprintf("unknown (%v)", err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "unified (v2 only)"
	}
	if unix.Statfs("/sys/fs/cgroup/unified", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		ctl, _ := os.ReadFile(unifiedControllers)
		c := strings.TrimSpace(string(ctl))
		if c == "" {
			c = "none"
		}
		return fmt.Sprintf("hybrid (v1 + v2 at /sys/fs/cgroup/unified, v2 controllers: %s)", c)
	}
	return "legacy (v1 only)"
}

// kernelRelease returns uname -r.
func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// joinCgroups moves pid into the absolute cgroup rel in every mounted
// hierarchy, creating it: what a process not started by an OCI runtime
// (systemd-nspawn --keep-unit) needs so that everything it creates lands
// under the bench's cgroup parent, never under the caller's own cgroup.
func joinCgroups(rel string, pid int) error {
	if !strings.HasPrefix(rel, "/") || len(rel) < 2 {
		return fmt.Errorf("cgroup %q is not absolute", rel)
	}
	mnts, err := cgroupMounts()
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, m := range mnts {
		if seen[m] {
			continue
		}
		seen[m] = true
		dir, err := ensureCgroup(m, rel)
		if err != nil {
			return err
		}
		procs := filepath.Join(dir, "cgroup.procs")
		if err := os.WriteFile(procs, []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return fmt.Errorf("move %d into %s: %w", pid, procs, err)
		}
	}
	return nil
}

// ensureCgroup creates rel under the hierarchy mounted at mnt level by
// level. A new v1 cpuset starts with no CPUs or memory nodes, which
// refuses tasks, so each level inherits its parent's.
func ensureCgroup(mnt, rel string) (string, error) {
	dir := mnt
	for _, part := range strings.Split(strings.Trim(rel, "/"), "/") {
		parent := dir
		dir = filepath.Join(dir, part)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("create cgroup %s: %w", dir, err)
		}
		if err := inheritCpuset(parent, dir); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func inheritCpuset(parent, dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "cgroup.clone_children")); err != nil {
		return nil // cgroup v2: an empty cpuset means "the parent's"
	}
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || strings.TrimSpace(string(cur)) != "" {
			continue // not a cpuset hierarchy, or already set
		}
		val, err := os.ReadFile(filepath.Join(parent, f))
		if err != nil {
			return fmt.Errorf("read %s: %w", filepath.Join(parent, f), err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), val, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", filepath.Join(dir, f), err)
		}
	}
	return nil
}
