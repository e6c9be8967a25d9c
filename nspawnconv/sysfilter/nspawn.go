package sysfilter

// allowItem is one entry of nspawn's allow list: a call or @group, allowed
// only when Cap (if set) is in the machine's bounding set.
type allowItem struct {
	Cap  string
	Name string
}

// nspawnAllow is the allow list of seccomp_add_default_syscall_filter() in
// src/nspawn/nspawn-seccomp.c, systemd 252 (checked against the filter the
// installed systemd-nspawn 252 loads: TestNspawnSeccompMatchesNspawn in
// tests/e2e; later systemd adds arm_fadvise64_64, not listed here). Knowingly left out there (and so
// here): @cpu-emulation, @keyring (the keyring is not namespaced), @obsolete,
// @pkey, @swap, bpf, fanotify_*, kexec_*, lookup_dcookie, nfsservctl,
// open_by_handle_at, perf_event_open, quotactl.
var nspawnAllow = []allowItem{
	{"", "@aio"}, {"", "@basic-io"}, {"", "@chown"}, {"", "@default"}, {"", "@file-system"},
	{"", "@io-event"}, {"", "@ipc"}, {"", "@mount"}, {"", "@network-io"}, {"", "@process"},
	{"", "@resources"}, {"", "@setuid"}, {"", "@signal"}, {"", "@sync"}, {"", "@timer"},
	// groups enabled only with the matching capability
	{"CAP_SYS_TIME", "@clock"}, {"CAP_SYS_MODULE", "@module"}, {"CAP_SYS_RAWIO", "@raw-io"}, {"CAP_IPC_LOCK", "@memlock"},
	// single calls in none of the groups above
	{"", "brk"}, {"", "capget"}, {"", "capset"}, {"", "copy_file_range"}, {"", "fadvise64"},
	{"", "fadvise64_64"}, {"", "flock"}, {"", "get_mempolicy"}, {"", "getcpu"}, {"", "getpriority"},
	{"", "getrandom"}, {"", "ioctl"}, {"", "ioprio_get"}, {"", "kcmp"}, {"", "madvise"},
	{"", "mincore"}, {"", "mprotect"}, {"", "mremap"}, {"", "name_to_handle_at"}, {"", "oldolduname"},
	{"", "olduname"}, {"", "personality"}, {"", "readahead"}, {"", "readdir"}, {"", "remap_file_pages"},
	{"", "sched_get_priority_max"}, {"", "sched_get_priority_min"}, {"", "sched_getaffinity"}, {"", "sched_getattr"},
	{"", "sched_getparam"}, {"", "sched_getscheduler"}, {"", "sched_rr_get_interval"}, {"", "sched_rr_get_interval_time64"}, {"", "sched_yield"},
	{"", "seccomp"}, {"", "sendfile"}, {"", "sendfile64"}, {"", "setdomainname"}, {"", "setfsgid"},
	{"", "setfsgid32"}, {"", "setfsuid"}, {"", "setfsuid32"}, {"", "sethostname"}, {"", "setpgid"},
	{"", "setsid"}, {"", "splice"}, {"", "sysinfo"}, {"", "tee"}, {"", "umask"}, {"", "uname"},
	{"", "userfaultfd"}, {"", "vmsplice"},
	// single calls enabled only with the matching capability
	{"CAP_SYS_PACCT", "acct"}, {"CAP_SYS_PTRACE", "process_vm_readv"}, {"CAP_SYS_PTRACE", "process_vm_writev"},
	{"CAP_SYS_PTRACE", "ptrace"}, {"CAP_SYS_BOOT", "reboot"}, {"CAP_SYSLOG", "syslog"}, {"CAP_SYS_TTY_CONFIG", "vhangup"},
}

// Errno values nspawn's filter returns (x86 and most architectures).
const (
	errnoEPERM        = 1  // known call, not allowed
	errnoENOSYS       = 38 // call unknown to systemd (the filter's default)
	errnoEAFNOSUPPORT = 97 // socket(AF_NETLINK, *, NETLINK_AUDIT)
	afNetlink         = 16
	netlinkAudit      = 9
)
