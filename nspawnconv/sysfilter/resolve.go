package sysfilter

import (
	"fmt"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// groups is systemd's group table, built on first use (a package-level
// map literal is built at start by every hull command).
var groups = sync.OnceValue(groupTable)

// Input is what nspawn's filter depends on.
type Input struct {
	Caps         []string // the machine's bounding set ("CAP_SYS_TIME", …)
	Allow        []string // SystemCallFilter= entries without ~ (names and @groups)
	Deny         []string // SystemCallFilter= entries with ~, matched literally as nspawn does
	SuppressSync bool     // SuppressSync=: the sync family succeeds without syncing
}

// Result is the resolved filter: which calls are allowed, which known calls
// fail with EPERM (every other call fails with ENOSYS), and warnings for
// entries nspawn would log and ignore.
type Result struct {
	Allowed  []string
	EPERM    []string
	Warnings []string
}

// Groups lists the @group names systemd knows.
func Groups() []string {
	out := make([]string, 0, len(groups()))
	for g := range groups() {
		out = append(out, g)
	}
	slices.Sort(out)
	return out
}

// Expand returns the calls of a @group (recursively, sorted), or false if
// systemd has no such group.
func Expand(group string) ([]string, bool) {
	if _, ok := groups()[group]; !ok {
		return nil, false
	}
	set := map[string]bool{}
	addItem(group, nil, set)
	return sortedKeys(set), true
}

// addItem is seccomp_add_syscall_filter_item: an item in exclude is
// skipped (literally, a @group too), a @group recurses, a name is added.
// It reports false for an unknown @group.
func addItem(item string, exclude []string, set map[string]bool) bool {
	if slices.Contains(exclude, item) {
		return true
	}
	if !strings.HasPrefix(item, "@") {
		set[item] = true
		return true
	}
	items, ok := groups()[item]
	if !ok {
		return false
	}
	for _, it := range items {
		addItem(it, exclude, set)
	}
	return true
}

// Resolve decides each call as nspawn's setup_seccomp() does: nspawn's
// allow list (items gated by a capability only with that capability) and
// the allow entries, minus the deny entries; every other call in @known
// gets EPERM; the rest ENOSYS.
func Resolve(in Input) Result {
	var r Result
	allowed := map[string]bool{}
	for _, it := range nspawnAllow {
		if it.Cap != "" && !slices.Contains(in.Caps, it.Cap) {
			continue
		}
		addItem(it.Name, in.Deny, allowed)
	}
	for _, it := range in.Allow {
		if !addItem(it, in.Deny, allowed) {
			r.Warnings = append(r.Warnings, fmt.Sprintf("SystemCallFilter=%s: unknown system call group, ignored (as nspawn does)", it))
		}
	}
	known := map[string]bool{}
	addItem("@known", sortedKeys(allowed), known)
	r.Allowed = sortedKeys(allowed)
	r.EPERM = sortedKeys(known)
	return r
}

// Seccomp returns the OCI section for the resolved filter: default ENOSYS,
// one ALLOW rule, one EPERM rule, socket split so that
// socket(AF_NETLINK, *, NETLINK_AUDIT) fails with EAFNOSUPPORT (nspawn's
// second filter), and the SuppressSync= rules.
func (r Result) Seccomp(suppressSync bool) *specs.LinuxSeccomp {
	enosys := uint(errnoENOSYS)
	sc := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: &enosys, Architectures: localArchs()}
	allow, eperm := slices.Clone(r.Allowed), slices.Clone(r.EPERM)
	var extra []specs.LinuxSyscall
	split := func(name string, rules func(fallback specs.LinuxSyscall) []specs.LinuxSyscall) {
		fb := specs.LinuxSyscall{Names: []string{name}, Action: specs.ActAllow}
		switch {
		case slices.Contains(allow, name):
			allow = slices.DeleteFunc(allow, func(n string) bool { return n == name })
		case slices.Contains(eperm, name):
			eperm = slices.DeleteFunc(eperm, func(n string) bool { return n == name })
			fb = errnoRule(name, errnoEPERM)
		default:
			fb = errnoRule(name, errnoENOSYS)
		}
		extra = append(extra, rules(fb)...)
	}
	split("socket", auditRules)
	if suppressSync {
		for _, s := range syncRules {
			split(s.name, s.rules)
		}
	}
	if len(allow) > 0 {
		sc.Syscalls = append(sc.Syscalls, specs.LinuxSyscall{Names: allow, Action: specs.ActAllow})
	}
	if len(eperm) > 0 {
		sc.Syscalls = append(sc.Syscalls, errnoRule("", errnoEPERM))
		sc.Syscalls[len(sc.Syscalls)-1].Names = eperm
	}
	sc.Syscalls = append(sc.Syscalls, extra...)
	return sc
}

func errnoRule(name string, errno uint) specs.LinuxSyscall {
	return specs.LinuxSyscall{Names: []string{name}, Action: specs.ActErrno, ErrnoRet: &errno}
}

// withArgs returns a copy of rule for the conditions.
func withArgs(rule specs.LinuxSyscall, args ...specs.LinuxSeccompArg) specs.LinuxSyscall {
	rule.Args = args
	return rule
}

// auditRules: the audit case, and the fallback decision for every other
// socket() (three rules, since one rule's conditions are AND-ed).
func auditRules(fb specs.LinuxSyscall) []specs.LinuxSyscall {
	audit := errnoRule("socket", errnoEAFNOSUPPORT)
	return []specs.LinuxSyscall{
		withArgs(fb, specs.LinuxSeccompArg{Index: 0, Value: afNetlink, Op: specs.OpNotEqual}),
		withArgs(fb, specs.LinuxSeccompArg{Index: 0, Value: afNetlink, Op: specs.OpEqualTo},
			specs.LinuxSeccompArg{Index: 2, Value: netlinkAudit, Op: specs.OpNotEqual}),
		withArgs(audit, specs.LinuxSeccompArg{Index: 0, Value: afNetlink, Op: specs.OpEqualTo},
			specs.LinuxSeccompArg{Index: 2, Value: netlinkAudit, Op: specs.OpEqualTo}),
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// localArchs are the architectures nspawn installs its filter for
// (SECCOMP_FOREACH_LOCAL_ARCH); nil leaves the runtime's native one.
func localArchs() []specs.Arch {
	switch goruntime.GOARCH {
	case "amd64":
		return []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	case "arm64":
		return []specs.Arch{specs.ArchAARCH64, specs.ArchARM}
	case "386":
		return []specs.Arch{specs.ArchX86}
	}
	return nil
}

// AllNames lists every call systemd's tables or nspawn's list name.
func AllNames() []string {
	set := map[string]bool{}
	for g := range groups() {
		addItem(g, nil, set)
	}
	for _, it := range nspawnAllow {
		addItem(it.Name, nil, set)
	}
	return sortedKeys(set)
}
