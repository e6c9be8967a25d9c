package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/nspawnconv/sysfilter"
	"github.com/hull-runtime/hull/tests/testenv"
)

const (
	auditArchX86_64 = 0xc000003e
	auditArchI386   = 0x40000003
)

// TestNspawnSeccompMatchesNspawn runs the same machine under the real
// systemd-nspawn and, converted, under hull and runc, reads the seccomp
// filters the kernel holds for each payload (PTRACE_SECCOMP_GET_FILTER) and
// compares the decision for every system call: each name systemd knows and
// each number 0..1023 on x86_64, i386 and x32, plus socket() for NETLINK_AUDIT.
// The filter nspawn installs is the yardstick, so the tables cannot agree
// with themselves by construction.
func TestNspawnSeccompMatchesNspawn(t *testing.T) {
	bin, rootfs := testenv.RequireHull(t, "end-to-end tests")
	nspawn, err := exec.LookPath("systemd-nspawn")
	if err != nil {
		t.Skip("systemd-nspawn not installed: it is the yardstick")
	}
	variants := []struct {
		name  string
		flags []string
	}{
		{"baseline", nil},
		{"filter and capabilities", []string{"--system-call-filter=add_key keyctl bpf @swap", "--system-call-filter=~@mount mknod",
			"--capability=CAP_SYS_TIME,CAP_IPC_LOCK", "--drop-capability=CAP_SYS_PTRACE"}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			want := decisionsOf(t, nspawnPayload(t, nspawn, rootfs, v.flags))
			if want["x86_64 kexec_load"] != "errno 1" || want["x86_64 read"] != "allow" {
				t.Fatalf("nspawn's payload has no allow-list filter: kexec_load %s, read %s", want["x86_64 kexec_load"], want["x86_64 read"])
			}
			for _, rt := range ociRuntimes(t, bin) {
				got := decisionsOf(t, ociPayload(t, bin, rt[1:], rootfs, v.flags))
				compareDecisions(t, rt[0], want, got)
			}
		})
	}
}

// payload is a running sleep whose filters can be read; stop ends it.
type payload struct {
	pid  int
	stop func()
}

// nspawnPayload starts systemd-nspawn on a copy of rootfs (nspawn writes
// into the tree) in a cgroup of the test's own, and finds its payload.
func nspawnPayload(t *testing.T, nspawn, rootfs string, flags []string) payload {
	name := "sc" + randomSuffix()
	tree := filepath.Join(t.TempDir(), "root")
	if out, err := exec.Command("cp", "-a", rootfs, tree).CombinedOutput(); err != nil {
		t.Fatalf("copy rootfs: %v: %s", err, out)
	}
	cg := cgroupParent + "/" + name
	marker := strconv.Itoa(90000 + int(time.Now().UnixNano()%9999))
	var dirs []string
	for _, h := range []string{"systemd", "unified", "memory", "pids"} {
		d := filepath.Join("/sys/fs/cgroup", h, cg)
		if err := os.MkdirAll(d, 0o755); err == nil {
			dirs = append(dirs, d)
		}
	}
	t.Cleanup(func() {
		for _, d := range cgroupDirs(cg) {
			removeCgroupTree(d)
		}
	})
	join := ""
	for _, d := range dirs {
		join += "echo $$ > " + d + "/cgroup.procs && "
	}
	args := append([]string{"--keep-unit", "--register=no", "-q", "-D", tree, "-M", name, "--console=pipe",
		"--resolv-conf=off", "--timezone=off", "--link-journal=no"}, flags...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	shArgs := append([]string{"-c", join + `exec "$0" "$@"`, nspawn}, append(args, "/bin/sleep", marker)...)
	cmd := exec.CommandContext(ctx, "sh", shArgs...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	// nspawn leaves its image lock and propagation directory when killed,
	// and cannot remove the latter when /run is not a tmpfs.
	t.Cleanup(func() {
		cancel()
		<-done
		var st unix.Stat_t
		if unix.Stat(tree, &st) == nil {
			os.Remove(fmt.Sprintf("/run/systemd/nspawn/locks/inode-%d:%d", st.Dev, st.Ino))
		}
		os.Remove("/run/systemd/nspawn/propagate/" + name)
	})
	var pid int
	if !waitUntil(20*time.Second, func() bool { pid = findSleep(marker); return pid > 0 }) {
		t.Fatalf("nspawn payload never appeared:\n%s", out.String())
	}
	// the payload is exec'd after the filters are loaded; nspawn exits with it
	return payload{pid: pid, stop: func() {
		unix.Kill(pid, unix.SIGKILL)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	}}
}

// crunWrapper: crun 1.8.1 refuses this hybrid host's cgroup2 hierarchy
// with controllers, so each crun call runs in a private mount namespace
// with an empty file over unified/cgroup.controllers (as tests/boot does).
const crunWrapper = `e=$(mktemp) && mount --bind "$e" /sys/fs/cgroup/unified/cgroup.controllers && rm -f "$e" && exec crun "$@"`

// ociRuntimes lists {name, argv…} of hull and the installed runc and crun.
func ociRuntimes(t *testing.T, hull string) [][]string {
	rts := [][]string{{"hull", hull}}
	if p, err := exec.LookPath("runc"); err == nil {
		rts = append(rts, []string{"runc", p})
	} else {
		t.Log("runc not installed, not compared")
	}
	if _, err := exec.LookPath("crun"); err == nil {
		argv := []string{"crun", "unshare", "--mount", "--propagation", "private", "sh", "-c", crunWrapper, "crun"}
		if _, err := os.Stat("/sys/fs/cgroup/unified/cgroup.controllers"); err != nil {
			argv = []string{"crun", "crun"}
		}
		rts = append(rts, argv)
	} else {
		t.Log("crun not installed, not compared")
	}
	return rts
}

// rtCommand runs the runtime argv with args.
func rtCommand(ctx context.Context, argv []string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, argv[0], append(append([]string{}, argv[1:]...), args...)...)
}

// ociPayload converts the machine with hull and runs it with the runtime argv.
func ociPayload(t *testing.T, hull string, rt []string, rootfs string, flags []string) payload {
	name := "sc" + randomSuffix()
	cg := cgroupParent + "/" + name
	root, bundle := t.TempDir(), filepath.Join(t.TempDir(), "b")
	marker := strconv.Itoa(90000 + int(time.Now().UnixNano()%9999))
	t.Cleanup(func() {
		rtCommand(context.Background(), rt, "--root", root, "delete", "--force", name).Run()
		for _, d := range cgroupDirs(cg) {
			removeCgroupTree(d)
		}
	})
	args := append([]string{"convert", "--bundle", bundle, "-D", rootfs, "-M", name, "--console=pipe", "--cgroups-path", cg}, flags...)
	if out, err := exec.Command(hull, append(args, "--", "/bin/sleep", marker)...).CombinedOutput(); err != nil {
		t.Fatalf("hull %v: %v\n%s", args, err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	cmd := rtCommand(ctx, rt, "--root", root, "run", "--bundle", bundle, name)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	stop := func() {
		rtCommand(context.Background(), rt, "--root", root, "kill", name, "KILL").Run()
		cmd.Wait()
		cancel()
	}
	var pid int
	if !waitUntil(20*time.Second, func() bool { pid = findSleep(marker); return pid > 0 }) {
		stop()
		t.Fatalf("%v payload never appeared:\n%s", rt, out.String())
	}
	return payload{pid: pid, stop: stop}
}

// findSleep returns the pid of "sleep MARKER" once it runs sleep itself.
func findSleep(marker string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cl, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		f := strings.Split(strings.TrimRight(string(cl), "\x00"), "\x00")
		if len(f) == 2 && strings.HasSuffix(f[0], "sleep") && f[1] == marker {
			return pid
		}
	}
	return 0
}

// decisions: key ("x86_64 keyctl", "i386 #17", "x86_64 socket(AF_NETLINK,NETLINK_AUDIT)") → decision.
type decisions map[string]string

func decisionsOf(t *testing.T, p payload) decisions {
	t.Helper()
	filters, err := seccompFilters(p.pid)
	p.stop()
	if err != nil {
		t.Fatal(err)
	}
	d := decisions{}
	for _, arch := range []struct {
		name  string
		audit uint32
		scmp  libseccomp.ScmpArch
		bit   int32 // x32 calls are x86_64 numbers with __X32_SYSCALL_BIT
	}{{"x86_64", auditArchX86_64, libseccomp.ArchAMD64, 0}, {"i386", auditArchI386, libseccomp.ArchX86, 0},
		{"x32", auditArchX86_64, libseccomp.ArchX32, 0x40000000}} {
		add := func(key string, nr int32, args ...uint64) {
			sd := seccompData{nr: nr, arch: arch.audit}
			copy(sd.args[:], args)
			dec, err := seccompDecision(filters, sd)
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			d[arch.name+" "+key] = dec
		}
		for _, name := range sysfilter.AllNames() {
			nr, err := libseccomp.GetSyscallFromNameByArch(name, arch.scmp)
			if err != nil || nr < 0 {
				continue // no such call on this architecture
			}
			add(name, int32(nr))
		}
		for nr := int32(0); nr < 1024; nr++ {
			add(fmt.Sprintf("#%d", nr), nr|arch.bit)
		}
		if nr, err := libseccomp.GetSyscallFromNameByArch("socket", arch.scmp); err == nil {
			add("socket(AF_NETLINK,NETLINK_AUDIT)", int32(nr), unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_AUDIT)
			add("socket(AF_NETLINK,NETLINK_ROUTE)", int32(nr), unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE)
			add("socket(AF_INET)", int32(nr), unix.AF_INET, unix.SOCK_STREAM, 0)
		}
	}
	return d
}

// compareDecisions fails on every call decided differently and logs the
// tally the closing note quotes.
func compareDecisions(t *testing.T, rt string, want, got decisions) {
	t.Helper()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	tally := map[string]map[string]int{}
	var diffs []string
	for _, k := range keys {
		arch, what, _ := strings.Cut(k, " ")
		kind := "names"
		if strings.HasPrefix(what, "#") {
			kind = "numbers"
		}
		tk := arch + " " + kind
		if tally[tk] == nil {
			tally[tk] = map[string]int{}
		}
		tally[tk][want[k]]++
		if got[k] != want[k] {
			diffs = append(diffs, fmt.Sprintf("%s: nspawn %s, %s %s", k, want[k], rt, got[k]))
		}
	}
	for _, tk := range []string{"x86_64 names", "x86_64 numbers", "i386 names", "i386 numbers", "x32 names", "x32 numbers"} {
		n := 0
		for _, c := range tally[tk] {
			n += c
		}
		t.Logf("%s vs nspawn, %s: %d compared %v", rt, tk, n, tally[tk])
	}
	for _, k := range []string{"x86_64 socket(AF_NETLINK,NETLINK_AUDIT)", "x86_64 keyctl", "x86_64 bpf"} {
		t.Logf("%s: nspawn %s, %s %s", k, want[k], rt, got[k])
	}
	t.Logf("%s vs nspawn: %d of %d decisions differ", rt, len(diffs), len(keys))
	for _, d := range diffs {
		t.Error(d)
	}
}
