// Package seccomp turns the OCI linux.seccomp section into a kernel filter
// and installs it.
//
// # Where the work happens
//
// libseccomp does two expensive things: it builds a rule database (one
// entry per syscall name per architecture) and generates classic BPF from
// it. seccomp_load regenerates the BPF every time it is called. Measured on
// the 2-core test VM with testdata/default.json (~380 names, x86_64 + x86 +
// x32, ERRNO default; 979 BPF instructions):
//
//	Compile in the runtime parent (build + export)   ~15 ms
//	libseccomp in the init: build ~6 ms + seccomp_load ~15 ms = ~21 ms
//	init with a shipped program: decode ~17 µs + seccomp(2) ~0.9 ms
//
// So the runtime should call Compile in the parent — where it can overlap
// with namespace and mount set-up instead of sitting on the container's
// critical path — and send Filter.MarshalBinary to the init, which calls
// UnmarshalBinary and Load. Load is a single seccomp(2) call and needs
// neither libseccomp nor cgo. Compile in the init also works (same API) for
// callers that cannot ship bytes. BenchmarkCompileDefault and
// BenchmarkLoadDefault reproduce the numbers. libseccomp's binary-tree
// optimisation (SCMP_FLTATR_CTL_OPTIMIZE=2) was tried: it made the program
// larger (1222 instructions) and compiling slower, so it is not used.
//
// # Semantics worth knowing
//
// Unknown syscall names are skipped, so one profile serves several kernels
// and architectures; unknown actions, operators, architectures and flags are
// errors naming the field (Validate). Rules whose action equals the default
// action are dropped: libseccomp rejects them and they change nothing. When
// one rule has several conditions on the same argument, each condition
// becomes its own rule (OR), as runc does, because libseccomp cannot AND
// them; conditions on distinct arguments are AND-ed. SCMP_ACT_KILL is
// SCMP_ACT_KILL_THREAD. errnoRet defaults to EPERM for ERRNO and TRACE.
//
// Load always passes SECCOMP_FILTER_FLAG_TSYNC, since the init is a
// multi-threaded Go process, plus the spec's LOG and SPEC_ALLOW flags. With
// a NOTIFY rule it adds NEW_LISTENER and TSYNC_ESRCH (the kernel refuses
// NEW_LISTENER with plain TSYNC) and WAIT_KILLABLE_RECV if asked; the latter
// is dropped without a listener because the kernel rejects it alone. The
// flags go straight to seccomp(2), so they work regardless of what the
// installed libseccomp (2.5.4 on Debian 12) knows.
//
// # What the caller must arrange
//
// Load does not set no_new_privs. The kernel accepts a filter only from a
// process with no_new_privs or CAP_SYS_ADMIN, so with
// process.noNewPrivileges the init sets PR_SET_NO_NEW_PRIVS first and loads
// last; without it the init must load while it still has CAP_SYS_ADMIN,
// before dropping capabilities. Everything after Load runs filtered,
// including the runtime's own remaining syscalls and execve.
//
// With SCMP_ACT_NOTIFY, Load returns the listener fd; it must reach the
// agent at linux.seccomp.listenerPath through SendListener (the spec's
// container process state plus SCM_RIGHTS). If the profile notifies on a
// syscall the init itself needs after Load (write, sendmsg, connect...), the
// init blocks until an agent answers, so the fd is best passed to the
// parent over an already-open socket and sent to the agent from there.
package seccomp
