// Package cgroups gives hull one interface, Manager, over the three ways a
// container's cgroup can be driven on Linux, so that the rest of the runtime
// (create, exec, update, pause, kill --all, events, delete) never asks which
// one the host uses.
//
// # Choosing a driver
//
// New picks the implementation from the host: the systemd driver when the
// user asked for it (--systemd-cgroup), cgroup v2 when /sys/fs/cgroup is a
// cgroup2 filesystem (statfs reports CGROUP2_SUPER_MAGIC), and cgroup v1
// otherwise (a tmpfs of per-controller mounts, possibly "hybrid" with an
// extra cgroup2 mount at /sys/fs/cgroup/unified). Every Manager describes
// itself with a JSON-serialisable State that hull persists with the container;
// Load rebuilds the same Manager in a later command without re-deriving paths,
// so a change in the caller's own cgroup cannot make `hull delete` look in the
// wrong place.
//
// Paths follow linux.cgroupsPath: absolute paths are taken as they are,
// relative ones are resolved under the calling process's own cgroup (what runc
// does), and an empty one becomes "/hull/<container id>".
//
// # Joining
//
// ProcsFiles lists the cgroup.procs files the container's init writes "0"
// into before it execs, so the process is in its cgroup before any user code
// runs, with no window in which a parent must move it. Apply does the same
// for a known pid (exec).
//
// # cgroup v1 (implemented here)
//
// The v1 driver reads /proc/self/mountinfo for mounts of type "cgroup" and
// manages the controllers cpu, cpuacct, cpuset, memory, devices, freezer,
// blkio, pids, hugetlb, net_cls, net_prio, perf_event, rdma, misc and the
// name=systemd hierarchy, whichever are mounted; co-mounted controllers
// ("cpu,cpuacct") share one directory. The cgroup2 mount of a hybrid host is
// ignored. A hierarchy mounted with a non-"/" root (inside a container) maps
// cgroup paths below that root.
//
// Quirks handled:
//   - cpuset: a new v1 cpuset cgroup has empty cpuset.cpus and cpuset.mems and
//     refuses tasks (ENOSPC), so every level Create makes, intermediate ones
//     included, copies both from its parent before the container's own values
//     are written.
//   - memory and swap: memory.memsw.limit_in_bytes may never be below
//     memory.limit_in_bytes, so when memsw is at least the current memory
//     limit it is written first (raising), otherwise memory goes first
//     (lowering). Without swap accounting a finite swap limit is an error.
//   - cpu.shares: the kernel clamps out-of-range values silently; the value is
//     read back and a clamp is reported as an error naming the field.
//   - cfs quota and burst: burst must not exceed quota; a refused quota is
//     retried after writing the burst.
//   - devices: rules are written in spec order to devices.allow/deny; a
//     leading deny-all becomes devices.deny "a", which resets the cgroup to
//     deny everything so only the following allows hold (runc's behaviour).
//   - blkio: modern kernels have only BFQ's blkio.bfq.weight; the CFQ name is
//     used when present. leafWeight needs CFQ and is an error without it.
//   - kernel memory (memory.kmem.*): deprecated; written when the file exists,
//     and a kernel that refuses it (EOPNOTSUPP) is ignored as the spec allows.
//   - freezer: FROZEN is requested repeatedly until freezer.state reads
//     FROZEN, since tasks in vfork or uninterruptible sleep hold the cgroup in
//     FREEZING; after 5s it thaws and fails. Frozen reads
//     freezer.self_freezing, so a frozen parent does not make a container look
//     paused.
//   - Signal freezes the cgroup, signals every pid found recursively and
//     thaws, so a fork bomb cannot outrun the kill. Without a freezer it
//     signals what it finds.
//   - OOM: OOMKillCount reads oom_kill from memory.oom_control; NotifyOOM
//     registers an eventfd through cgroup.event_control. The kernel also
//     signals that eventfd when the cgroup goes away, which is told apart by
//     the directory being gone.
//
// Before writing anything, Create and Set check every field that is set
// (non-nil, non-zero) against the mounted controllers and fail with e.g.
// "linux.resources.network.classID: net_cls controller not mounted", and
// reject impossible values naming the field and value. Every write error
// carries the file path and the value. A Create that fails removes the
// directories it made.
//
// Destroy removes the container's leaf directory in every hierarchy, after
// any sub-cgroups the container made below it, deepest first; a missing
// directory is success and EBUSY (tasks still exiting) is retried for about a
// second. Intermediate directories ("/hull" in "/hull/<id>") are left in
// place, as runc leaves them: another container may be using them and an
// empty cgroup directory costs nothing.
//
// # cgroup v2 and systemd (to come)
//
// The v2 driver will use one directory on the unified hierarchy, enable the
// controllers it needs in each ancestor's cgroup.subtree_control, map the
// spec to v2 files (memory.max, memory.swap.max as swap minus memory, cpu.max,
// cpu.weight from shares, io.max, pids.max, a BPF device filter), freeze with
// cgroup.freeze, kill with cgroup.kill, and read OOM kills from
// memory.events. The systemd driver will ask systemd over D-Bus for a
// transient scope named from "slice:prefix:name" and then drive the scope's
// directory like the cgroupfs driver of the host's version. Both fit behind
// Manager unchanged; until they exist New and Load return errors wrapping
// ErrNotImplemented for them.
package cgroups
