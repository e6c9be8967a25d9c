// Package libcontainer runs OCI containers: the parent side of each
// lifecycle command (create, start, kill, delete, run) and the container's
// init, which hull re-executes itself as.
//
// Processes of one `hull create`:
//
//	hull create ──exec (read-only bind of hull, private mount ns)──▶ hull init [C stage]
//	     │                                                              │ setns/unshare
//	     │◀── sync socket: 'M' id maps, 'P' pid ─────────────────────── │ clone(CLONE_PARENT), exits
//	     │ puts the pid in the cgroup, writes oom_score_adj          hull init [Go] (pid 1 of the container)
//	     │── 'C' config JSON ──────────────────────────────────────────▶ │ rootfs, hooks, console, attributes,
//	     │                                                              │ drops privileges
//	     │◀── 'H' run createRuntime hooks / 'h' done ─────────────────── │ (only when hooks exist)
//	     │◀── 'S' seccomp listener fd (SCM_RIGHTS) ──────────────────── │ (only with SCMP_ACT_NOTIFY)
//	 sends it to linux.seccomp.listenerPath                               │
//	     │◀── 'R' ready ──────────────────────────────────────────────── │ blocks reading exec.fifo
//	 writes state, exits                                                  │
//	hull start ── writes a byte into exec.fifo ─────────────────────────▶ │ startContainer hooks, seccomp, execve
//
// See docs/design.md for the reasons and the costs.
package libcontainer
