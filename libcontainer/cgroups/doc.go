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
// relative ones are resolved under the calling process's own cgroup on v1 and
// under its parent on v2, where the caller's own cgroup holds processes and so
// can have no children with controllers (both what runc does), and an empty
// one becomes "/hull/<container id>".
//
// # Joining
//
// hull writes the container process's pid into every cgroup.procs (Apply)
// after its namespace setup and before it runs anything of its own; see
// docs/design.md for why the parent does it and when.
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
// second. Each directory is first simply removed; it is listed for
// sub-cgroups only when that fails with EBUSY (one rmdir per hierarchy in
// the usual case, not a listing of its control files first). Intermediate
// directories ("/hull" in "/hull/<id>") are left in place, as runc leaves
// them: another container may be using them and an empty cgroup directory
// costs nothing.
//
// # cgroup v2
//
// The v2 driver uses one directory on the unified hierarchy. Create makes
// the missing levels and, in every ancestor from the root down to the
// parent, enables each controller the ancestor has (as runc does, so stats
// work without limits). A pre-existing ancestor holding processes cannot
// enable any (the "no internal processes" rule); that is only an error when
// a set field needs the controller, and the error says why. The leaf's own
// subtree_control stays empty so that processes can join it.
//
// Mapping: memory.limit → memory.max, reservation → memory.low, swap →
// memory.swap.max as swap minus limit (runc's conversion; -1 stays "max",
// and an unlimited memory with unset swap makes swap unlimited too);
// cpu.shares → cpu.weight by runc 1.1's linear formula 1+(shares-2)*9999/262142;
// quota/period → cpu.max, merged with the current value so either may be
// updated alone; burst → cpu.max.burst (written before and, if refused,
// after cpu.max); idle → cpu.idle; cpus/mems → cpuset.*; pids → pids.max;
// blockIO.weight → io.bfq.weight when BFQ is there, else io.weight scaled
// from 10-1000 to 1-10000; throttles → io.max with 0 as "max"; hugepages →
// hugetlb.<size>.max and .rsvd.max; rdma → rdma.max; unified keys are
// written last, verbatim, and must be plain "<controller>.<file>" names.
// Fields v2 has no file for are errors naming the field (kernelTCP,
// swappiness, disableOOMKiller=true, realtime, leafWeight, network);
// memory.kernel is deprecated and ignored.
//
// Devices: v2 has no devices files. Create (and a Set that carries rules,
// which update no longer makes) assembles a
// BPF_PROG_TYPE_CGROUP_DEVICE program from the rules (checked last to first,
// the first match deciding, so later rules override earlier ones as writes
// to v1's devices.allow/deny do; no match allows, as a fresh v1 cgroup
// inherits allow-all), load it with bpf(2), attach it with
// BPF_F_ALLOW_MULTI and then detach the previous one, so there is never a
// moment without a filter.
//
// Freeze writes cgroup.freeze and waits for "frozen 1" in cgroup.events;
// Frozen reads cgroup.freeze, so a frozen ancestor does not look like a
// paused container. Signal(SIGKILL) writes cgroup.kill (Linux 5.14+), which
// kills the whole subtree at once; other signals are sent with the cgroup
// frozen, unless it was paused already. Stats come from cpu.stat,
// memory.{current,max,peak,stat,events,swap.*}, pids.*, io.stat and
// hugetlb.*, shaped like runc's (swap is memory plus swap, as v1's memsw).
// OOM kills are counted from memory.events; NotifyOOM watches that file with
// inotify.
//
// # systemd
//
// With --systemd-cgroup, cgroupsPath "slice:prefix:name" names the
// transient scope "prefix-name.scope" in slice (default
// "system.slice:hull:<id>"); its directory is the slice's nesting
// ("a-b.slice" is /a.slice/a-b.slice) plus the scope. Only cgroup v2 hosts
// are supported. Create asks systemd over D-Bus (its private socket, else the
// system bus) for the scope with Delegate=yes, accounting on, and the
// resources that have properties (MemoryMax, MemoryLow, MemorySwapMax,
// CPUWeight, CPUQuotaPerSecUSec rounded up to whole percents,
// CPUQuotaPeriodUSec, AllowedCPUs, AllowedMemoryNodes, TasksMax, IOWeight)
// so that a daemon-reload keeps them; then it writes the cgroup files like
// the v2 driver (exact values, everything without a property, the device
// filter). Set does both again. Everything else is the v2 driver on the
// scope's directory.
//
// systemd refuses an empty scope and stops one that empties, but hull's
// init joins its cgroup itself after Create, by writing into ProcsFiles. So
// the scope is started around a placeholder, "/bin/sh -c 'read _'", which
// leaves once another process is in the scope (or after 60s, or when hull
// exits and its pipe closes). hull itself never enters the container's
// cgroup. Destroy stops the unit (a unit already gone is success), resets a
// failed state so the name can be reused, and removes what is left.
package cgroups
