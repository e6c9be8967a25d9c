// Package sysfilter builds the seccomp filter systemd-nspawn puts on every
// machine, as an OCI linux.seccomp section, so hull, runc and crun confine a
// converted machine as nspawn does.
//
// The group tables (groups_systemd.go) are generated from the installed
// systemd's `systemd-analyze syscall-filter` (gen.go); nspawn's own allow
// list (nspawn.go) follows src/nspawn/nspawn-seccomp.c of systemd 252. Names
// are resolved the way seccomp-util.c's seccomp_add_syscall_filter_item does:
// an excluded (~) entry is matched literally, at every level of a group's
// expansion, so "~@mount" drops nspawn's whole @mount item and "~mount" one
// call.
package sysfilter
