package sysfilter

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// nspawnDefaultCaps is nspawn 252's default bounding set (nspawn.c).
var nspawnDefaultCaps = []string{"CAP_AUDIT_CONTROL", "CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE",
	"CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_IPC_OWNER", "CAP_KILL", "CAP_LEASE",
	"CAP_LINUX_IMMUTABLE", "CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_RAW",
	"CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
	"CAP_SYS_CHROOT", "CAP_SYS_NICE", "CAP_SYS_PTRACE", "CAP_SYS_RESOURCE", "CAP_SYS_TTY_CONFIG"}

func decide(r Result, name string) string {
	switch {
	case slices.Contains(r.Allowed, name):
		return "allow"
	case slices.Contains(r.EPERM, name):
		return "EPERM"
	}
	return "ENOSYS"
}

func TestResolve(t *testing.T) {
	cases := []struct {
		name string
		in   Input
		want map[string]string
	}{
		{"baseline", Input{Caps: nspawnDefaultCaps}, map[string]string{
			"read": "allow", "mount": "allow", "clone3": "allow", "ptrace": "allow", "reboot": "allow", "vhangup": "allow",
			"keyctl": "EPERM", "add_key": "EPERM", "bpf": "EPERM", "perf_event_open": "EPERM", "kexec_load": "EPERM",
			"init_module": "EPERM", "clock_settime": "EPERM", "syslog": "EPERM", "acct": "EPERM", "mlock": "EPERM",
			"swapon": "EPERM", "pkey_alloc": "EPERM", "open_by_handle_at": "EPERM", "no_such_call": "ENOSYS"}},
		{"capabilities add groups", Input{Caps: append(slices.Clone(nspawnDefaultCaps), "CAP_SYS_TIME", "CAP_SYS_MODULE", "CAP_IPC_LOCK", "CAP_SYSLOG", "CAP_SYS_PACCT", "CAP_SYS_RAWIO")}, map[string]string{
			"clock_settime": "allow", "adjtimex": "allow", "init_module": "allow", "delete_module": "allow", "mlock": "allow",
			"syslog": "allow", "acct": "allow", "ioperm": "allow", "kexec_load": "EPERM"}},
		{"dropped capabilities remove calls", Input{Caps: []string{"CAP_CHOWN"}}, map[string]string{
			"ptrace": "EPERM", "reboot": "EPERM", "vhangup": "EPERM", "chown": "allow"}},
		{"docker recipe", Input{Caps: nspawnDefaultCaps, Allow: []string{"add_key", "keyctl", "bpf"}}, map[string]string{
			"add_key": "allow", "keyctl": "allow", "bpf": "allow", "request_key": "EPERM"}},
		{"allow group", Input{Caps: nspawnDefaultCaps, Allow: []string{"@keyring", "@swap"}}, map[string]string{
			"request_key": "allow", "swapoff": "allow"}},
		{"deny name", Input{Caps: nspawnDefaultCaps, Deny: []string{"mount", "kexec_load", "made_up"}}, map[string]string{
			"mount": "EPERM", "umount2": "allow", "kexec_load": "EPERM", "made_up": "ENOSYS"}},
		// nspawn matches ~entries literally: ~@mount drops its @mount item ...
		{"deny group item", Input{Caps: nspawnDefaultCaps, Deny: []string{"@mount"}}, map[string]string{
			"mount": "EPERM", "umount2": "EPERM", "pivot_root": "EPERM", "read": "allow"}},
		// ... and a group nspawn does not list has no effect on calls other items allow
		{"deny unlisted group", Input{Caps: nspawnDefaultCaps, Deny: []string{"@privileged"}}, map[string]string{
			"mount": "allow", "chown": "allow"}},
		{"deny beats allow", Input{Caps: nspawnDefaultCaps, Allow: []string{"keyctl"}, Deny: []string{"keyctl"}}, map[string]string{
			"keyctl": "EPERM"}},
		{"deny nested group", Input{Caps: nspawnDefaultCaps, Deny: []string{"@clock"}, Allow: []string{"@system-service"}}, map[string]string{
			"clock_settime": "EPERM", "adjtimex": "EPERM"}},
	}
	for _, c := range cases {
		r := Resolve(c.in)
		for name, want := range c.want {
			if got := decide(r, name); got != want {
				t.Errorf("%s: %s = %s, want %s", c.name, name, got, want)
			}
		}
	}
}

func TestResolveUnknownGroupWarns(t *testing.T) {
	r := Resolve(Input{Allow: []string{"@nonsense", "keyctl"}})
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "@nonsense") || decide(r, "keyctl") != "allow" {
		t.Errorf("warnings %v keyctl %s", r.Warnings, decide(r, "keyctl"))
	}
}

func TestExpand(t *testing.T) {
	clock, ok := Expand("@clock")
	if !ok || !slices.Equal(clock, []string{"adjtimex", "clock_adjtime", "clock_adjtime64", "clock_settime", "clock_settime64", "settimeofday"}) {
		t.Errorf("@clock = %v", clock)
	}
	// @system-service includes @clock? no: it includes @signal etc.; nested groups expand
	svc, _ := Expand("@system-service")
	sig, _ := Expand("@signal")
	for _, n := range sig {
		if !slices.Contains(svc, n) {
			t.Errorf("@system-service misses %s of @signal", n)
		}
	}
	if _, ok := Expand("@nope"); ok {
		t.Error("@nope expanded")
	}
}

// TestGroupsMatchSystemd compares every table with the installed systemd's
// own expansion (`systemd-analyze syscall-filter`), when it is the version
// the tables were generated from.
func TestGroupsMatchSystemd(t *testing.T) {
	ver, err := exec.Command("systemd-analyze", "--version").Output()
	if err != nil {
		t.Skipf("systemd-analyze not installed: %v", err)
	}
	if !strings.Contains(string(ver), "("+SystemdVersion+")") {
		t.Skipf("installed systemd is %q, tables follow %s", strings.SplitN(string(ver), "\n", 2)[0], SystemdVersion)
	}
	out, err := exec.Command("systemd-analyze", "syscall-filter", "--no-pager").Output()
	if err != nil {
		t.Fatal(err)
	}
	theirs := map[string][]string{}
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		item := strings.TrimSpace(line)
		switch {
		case item == "" || strings.HasPrefix(item, "#"):
		case strings.HasPrefix(line, "@"):
			cur = item
		default:
			theirs[cur] = append(theirs[cur], item)
		}
	}
	if len(theirs) != len(groups()) {
		t.Errorf("systemd has %d groups, tables %d", len(theirs), len(groups()))
	}
	for g, items := range theirs {
		if !slices.Equal(items, groups()[g]) {
			t.Errorf("%s differs: systemd %v, tables %v", g, items, groups()[g])
		}
	}
}

func TestSeccompSection(t *testing.T) {
	r := Resolve(Input{Caps: nspawnDefaultCaps})
	sc := r.Seccomp(false)
	if sc.DefaultAction != specs.ActErrno || *sc.DefaultErrnoRet != 38 {
		t.Errorf("default %s %d", sc.DefaultAction, *sc.DefaultErrnoRet)
	}
	var audit, sockets int
	for _, rule := range sc.Syscalls {
		if slices.Contains(rule.Names, "socket") {
			sockets++
			if len(rule.Args) == 0 {
				t.Error("unconditional socket rule would shadow the audit rule")
			}
			if rule.Action == specs.ActErrno && *rule.ErrnoRet == 97 {
				audit++
			}
		}
	}
	if sockets != 3 || audit != 1 {
		t.Errorf("socket rules %d, audit %d", sockets, audit)
	}
	ss := r.Seccomp(true)
	for _, rule := range ss.Syscalls {
		if len(rule.Args) == 0 && slices.Contains(rule.Names, "fsync") {
			t.Error("SuppressSync: unconditional fsync rule left")
		}
	}
}
