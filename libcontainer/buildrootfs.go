package libcontainer

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/rawfile"
	"github.com/hull-runtime/hull/internal/stackgrow"
	"github.com/hull-runtime/hull/libcontainer/rootfs"
)

// parentBuildsRootfs tells whether hull create builds the container's
// rootfs itself (buildRootfs) rather than leave it to the init. It needs a
// mount namespace of the container's own to pivot_root in, and a proc that
// can be mounted from outside its pid namespace (fsconfig "pidns", Linux
// 6.15). A user namespace keeps the init's path: setns into one refuses a
// multi-threaded caller, and mounts made from outside it would belong to the
// host's. So do --no-pivot (chroot moves one thread's root, not the init's),
// idmapped mounts (they fork a helper from the builder), a runtime not root
// or itself in a user namespace.
func parentBuildsRootfs(spec *specs.Spec, o CreateOpts) bool {
	if o.NoPivot || os.Geteuid() != 0 || !ownsNamespace(spec, specs.MountNamespace) ||
		hasNamespace(spec, specs.UserNamespace) || runningInUserNS() {
		return false
	}
	for _, m := range spec.Mounts {
		if isIdmapped(m) {
			return false
		}
	}
	return rootfs.ProcPidNS()
}

func hasOption(opts []string, names ...string) bool {
	for _, o := range opts {
		for _, n := range names {
			if o == n || strings.HasPrefix(o, n+"=") {
				return true
			}
		}
	}
	return false
}

// buildRootfs does the init's steps from "prepare rootfs" to "read-only
// /dev" for the init pid, from a thread of hull create that left hull's
// filesystem context (CLONE_FS) and entered the init's namespaces but its
// user namespace (setns, through a pidfd). Its pivot_root also moves the
// init's root, which is the namespace's root. The thread dies with its
// goroutine (never unlocked), so no other goroutine runs in the container's
// namespaces. runtimeHooks, if set, runs on the calling goroutine, in
// hull's own namespaces. The pty slave is returned for the init.
func buildRootfs(pid int, cfg *initConfig, consoleSock *os.File, runtimeHooks func() error) (*os.File, error) {
	b := &rootfsBuilder{cfg: cfg, spec: cfg.Spec, initPid: pid, consoleSock: consoleSock}
	if cgroupV1Mount(cfg.Spec) {
		// Read from this goroutine's thread, in hull's cgroup namespace,
		// which is the builder's: the container has none of its own.
		b.cgroupV1 = rootfs.ReadCgroupV1Ahead(pid)
	}
	hooksReq, hooksDone := make(chan struct{}), make(chan error)
	if runtimeHooks != nil {
		b.runtimeHooks = func() error {
			hooksReq <- struct{}{}
			return <-hooksDone
		}
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		stackgrow.Grow()       // once, here: the mount code runs a dozen frames deep
		done <- b.inNamespaces(pid)
	}()
	for {
		select {
		case <-hooksReq:
			hooksDone <- runtimeHooks()
		case err := <-done:
			if b.proc != nil {
				b.proc.Close()
			}
			if err != nil && b.slave != nil {
				b.slave.Close()
				b.slave = nil
			}
			return b.slave, err
		}
	}
}

// cgroupV1Mount tells whether the build makes a cgroup mount on a cgroup
// v1 host in hull's cgroup namespace: then the init's view of the host's
// hierarchies can be read ahead, overlapping the mounts before it.
func cgroupV1Mount(spec *specs.Spec) bool {
	if hasNamespace(spec, specs.CgroupNamespace) {
		return false
	}
	for _, m := range spec.Mounts {
		if m.Type == "cgroup" {
			var st unix.Statfs_t
			return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type != unix.CGROUP2_SUPER_MAGIC
		}
	}
	return false
}

// inNamespaces runs on the locked thread.
func (b *rootfsBuilder) inNamespaces(pid int) error {
	if err := b.enter(pid); err != nil {
		return fmt.Errorf("prepare rootfs: %w", err)
	}
	if b.pidNS > 0 {
		defer unix.Close(b.pidNS)
	}
	return runSteps(b.steps())
}

// enter joins the init's namespaces; its pid namespace only for the
// children (the hooks), and as the fd new proc mounts belong to.
func (b *rootfsBuilder) enter(pid int) error {
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("unshare CLONE_FS: %w", err)
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd of the init %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	if b.pidNS, err = unix.Open(fmt.Sprintf("/proc/%d/ns/pid", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		return fmt.Errorf("pid namespace of the init: %w", err)
	}
	// Only the createContainer hooks' state needs it (a read of
	// /proc/PID/status the kernel generates anew).
	if s := b.spec; s.Hooks != nil && len(s.Hooks.CreateContainer) > 0 {
		if b.hookPid, err = nsPid(pid); err != nil {
			return err
		}
	}
	// The pidfd names the process we started even if it died and its pid
	// was reused: setns then fails (ESRCH) rather than entering another.
	if err := unix.Setns(pidfd, nsFlags(b.spec)); err != nil {
		return fmt.Errorf("enter the init's namespaces: %w", err)
	}
	return nil
}

// nsFlags are the namespaces the builder enters: every one the spec names
// but the user namespace, the mount namespace always (the builder's reason
// to be there).
func nsFlags(spec *specs.Spec) int {
	flags := unix.CLONE_NEWNS
	if spec.Linux == nil {
		return flags
	}
	for _, ns := range spec.Linux.Namespaces {
		switch ns.Type {
		case specs.NetworkNamespace:
			flags |= unix.CLONE_NEWNET
		case specs.IPCNamespace:
			flags |= unix.CLONE_NEWIPC
		case specs.UTSNamespace:
			flags |= unix.CLONE_NEWUTS
		case specs.CgroupNamespace:
			flags |= unix.CLONE_NEWCGROUP
		case specs.PIDNamespace:
			flags |= unix.CLONE_NEWPID
		}
	}
	return flags
}

// nsPid is pid as its own pid namespace sees it (the last NSpid field).
func nsPid(pid int) (int, error) {
	data, err := rawfile.ReadSmall(fmt.Sprintf("/proc/%d/status", pid), 2048)
	if err != nil {
		return 0, fmt.Errorf("status of the init: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "NSpid:"); ok {
			fields := strings.Fields(rest)
			if len(fields) > 0 {
				return strconv.Atoi(fields[len(fields)-1])
			}
		}
	}
	return 0, fmt.Errorf("no NSpid in /proc/%d/status", pid)
}
