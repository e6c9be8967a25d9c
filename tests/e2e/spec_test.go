package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// specCase runs script in a container whose config setup changed, then
// checks what the script printed.
type specCase struct {
	name   string
	setup  func(t *testing.T, c *container)
	script string
	want   []string // substrings of the output
	check  func(t *testing.T, c *container, out string)
}

func runSpecCases(t *testing.T, cases []specCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, nil)
			if tc.setup != nil {
				tc.setup(t, c)
			}
			out := c.runOutput(sh(tc.script)...)
			wantContains(t, out, tc.want...)
			if tc.check != nil {
				tc.check(t, c, out)
			}
		})
	}
}

// field returns the value printed as "key=value" on a line of out.
func field(out, key string) string {
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func TestSpecNamespaces(t *testing.T) {
	t.Parallel()
	runSpecCases(t, []specCase{
		{
			name: "hostname-domainname",
			setup: func(t *testing.T, c *container) {
				c.Spec.Hostname, c.Spec.Domainname = "e2e-host", "e2e.example"
				c.writeSpec()
			},
			script: "echo host=$(hostname); echo domain=$(cat /proc/sys/kernel/domainname)",
			want:   []string{"host=e2e-host", "domain=e2e.example"},
		},
		{
			name:   "new-namespaces",
			script: "echo pid=$$; for n in uts ipc net cgroup mnt pid; do echo $n=$(readlink /proc/self/ns/$n); done",
			want:   []string{"pid=1\n"},
			check: func(t *testing.T, c *container, out string) {
				for _, n := range []string{"uts", "ipc", "net", "cgroup", "mnt", "pid"} {
					if got := field(out, n); got == "" || got == hostNS(t, n) {
						t.Errorf("namespace %s inside %q, host %q: want a new one", n, got, hostNS(t, n))
					}
				}
			},
		},
		{
			name: "user-namespace",
			setup: func(t *testing.T, c *container) {
				c.Spec.Linux.Namespaces = append(c.Spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
				c.Spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
				c.Spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 300000, Size: 65536}}
				c.writeSpec()
			},
			script: "echo uid=$(id -u) gid=$(id -g); echo user=$(readlink /proc/self/ns/user); echo uidmap $(cat /proc/self/uid_map); echo gidmap $(cat /proc/self/gid_map)",
			want:   []string{"uid=0 gid=0", "uidmap 0 200000 65536", "gidmap 0 300000 65536"},
			check: func(t *testing.T, c *container, out string) {
				if got := field(out, "user"); got == "" || got == hostNS(t, "user") {
					t.Errorf("user namespace inside %q, host %q", got, hostNS(t, "user"))
				}
			},
		},
		{
			name: "time-namespace",
			setup: func(t *testing.T, c *container) {
				if _, err := os.Stat("/proc/self/ns/time"); err != nil {
					t.Skipf("no time namespaces on this kernel: %v", err)
				}
				c.Spec.Linux.Namespaces = append(c.Spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
				c.Spec.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{
					"monotonic": {Secs: 7 * 86400}, "boottime": {Secs: 365 * 86400},
				}
				c.writeSpec()
			},
			script: "cat /proc/self/timens_offsets; echo uptime=$(cut -d. -f1 /proc/uptime)",
			check: func(t *testing.T, c *container, out string) {
				offsets := strings.Join(strings.Fields(out), " ")
				wantContains(t, offsets, "monotonic 604800 0", "boottime 31536000 0")
				if up, err := strconv.Atoi(field(out, "uptime")); err != nil || up < 365*86400 {
					t.Errorf("uptime %q inside, want the boottime offset of a year added", field(out, "uptime"))
				}
			},
		},
	})
}

func TestSpecMounts(t *testing.T) {
	t.Parallel()
	runSpecCases(t, []specCase{
		{
			name: "bind-ro-rw",
			setup: func(t *testing.T, c *container) {
				ro, rw := filepath.Join(c.tmp, "ro"), filepath.Join(c.tmp, "rw")
				os.Mkdir(ro, 0o755)
				os.Mkdir(rw, 0o755)
				os.WriteFile(filepath.Join(ro, "f"), []byte("from-host\n"), 0o644)
				c.Spec.Mounts = append(c.Spec.Mounts,
					specs.Mount{Destination: "/home", Type: "bind", Source: ro, Options: []string{"rbind", "ro"}},
					specs.Mount{Destination: "/root", Type: "bind", Source: rw, Options: []string{"rbind", "rw"}})
				c.writeSpec()
			},
			script: "cat /home/f; echo x > /home/new; echo ro-rc=$?; echo written > /root/new; echo rw-rc=$?",
			want:   []string{"from-host", "ro-rc=1", "rw-rc=0"},
			check: func(t *testing.T, c *container, out string) {
				if _, err := os.Stat(filepath.Join(c.tmp, "ro", "new")); err == nil {
					t.Error("a write went through the read-only bind")
				}
				if data, _ := os.ReadFile(filepath.Join(c.tmp, "rw", "new")); string(data) != "written\n" {
					t.Errorf("host file behind the rw bind has %q", data)
				}
			},
		},
		{
			name: "bind-ro-EROFS",
			setup: func(t *testing.T, c *container) {
				c.Spec.Mounts = append(c.Spec.Mounts, specs.Mount{Destination: "/home", Type: "bind", Source: c.tmp, Options: []string{"rbind", "ro"}})
				c.writeSpec()
			},
			script: "touch /home/x 2>&1; true",
			want:   []string{"Read-only file system"},
		},
		{
			name: "tmpfs-size",
			setup: func(t *testing.T, c *container) {
				c.Spec.Mounts = append(c.Spec.Mounts, specs.Mount{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m", "mode=700"}})
				c.writeSpec()
			},
			script: "grep ' /run ' /proc/self/mountinfo; df -k /run | tail -1; stat -c mode=%a /run",
			want:   []string{" - tmpfs ", "size=1024k", " 1024 ", "mode=700"},
		},
		{
			name: "relative-bind-source",
			setup: func(t *testing.T, c *container) {
				os.Mkdir(filepath.Join(c.Bundle, "data"), 0o755)
				os.WriteFile(filepath.Join(c.Bundle, "data", "f"), []byte("bundle-data\n"), 0o644)
				c.Spec.Mounts = append(c.Spec.Mounts, specs.Mount{Destination: "/var", Type: "bind", Source: "data", Options: []string{"rbind", "ro"}})
				c.writeSpec()
			},
			script: "cat /var/f",
			want:   []string{"bundle-data"},
		},
		{
			name:   "root-readonly",
			script: "touch /new-file 2>&1; echo rc=$?",
			want:   []string{"Read-only file system", "rc=1"},
		},
		{
			name: "root-writable",
			setup: func(t *testing.T, c *container) {
				c.privateRootfs()
				c.Spec.Root.Readonly = false
				c.writeSpec()
			},
			script: "echo in-rootfs > /new-file && echo rc=$?",
			want:   []string{"rc=0"},
			check: func(t *testing.T, c *container, out string) {
				if data, _ := os.ReadFile(filepath.Join(c.Bundle, "rootfs", "new-file")); string(data) != "in-rootfs\n" {
					t.Errorf("rootfs file has %q", data)
				}
			},
		},
		{
			name: "masked-paths",
			setup: func(t *testing.T, c *container) {
				// /proc/kcore, in the defaults, is missing on some kernels: mask
				// files that always exist too.
				c.Spec.Linux.MaskedPaths = append(c.Spec.Linux.MaskedPaths, "/proc/cmdline", "/proc/version")
				c.writeSpec()
			},
			script: "echo cmdline=$(wc -c < /proc/cmdline) version=$(wc -c < /proc/version); echo firmware=$(ls -A /sys/firmware | wc -l);",
			want:   []string{"cmdline=0 version=0", "firmware=0"},
		},
		{
			name:   "readonly-paths",
			script: "{ echo e2e > /proc/sys/kernel/hostname; } 2>&1; echo rc=$?; grep ' /proc/sys ' /proc/self/mountinfo",
			want:   []string{"Read-only file system", "rc=1", " ro,"},
		},
		{
			name:   "default-devices",
			script: "test -c /dev/null && test -c /dev/zero && test -d /dev/pts && test -d /dev/shm && echo devs-ok; echo x > /dev/null && echo null-ok; echo zero=$(head -c 4 /dev/zero | wc -c); grep -c ' /dev/pts .* devpts ' /proc/self/mountinfo; grep ' /dev/shm ' /proc/self/mountinfo",
			want:   []string{"devs-ok", "null-ok", "zero=4", "1\n", " - tmpfs shm "},
		},
		{
			name: "linux-devices",
			setup: func(t *testing.T, c *container) {
				mode := os.FileMode(0o640)
				uid, gid := uint32(1000), uint32(1001)
				c.Spec.Linux.Devices = []specs.LinuxDevice{
					{Path: "/dev/e2e-null", Type: "c", Major: 1, Minor: 3},
					{Path: "/dev/e2e-owned", Type: "c", Major: 1, Minor: 5, FileMode: &mode, UID: &uid, GID: &gid},
					{Path: "/dev/e2e-blk", Type: "b", Major: 7, Minor: 200},
				}
				c.writeSpec()
			},
			script: "stat -c '%n %F %t:%T %a %u:%g' /dev/e2e-null /dev/e2e-owned /dev/e2e-blk; echo x > /dev/e2e-null && echo write-ok",
			want: []string{
				"/dev/e2e-null character special file 1:3 ", "/dev/e2e-owned character special file 1:5 640 1000:1001",
				"/dev/e2e-blk block special file 7:c8", "write-ok",
			},
		},
	})
}

func TestSpecRootfsPropagation(t *testing.T) {
	t.Parallel()
	cases := []struct{ propagation, want, notWant string }{
		{"shared", "shared:", "master:"},
		{"slave", "master:", "shared:"},
		{"private", "", "shared:"},
		// The rootfs must still be bound before "/" becomes unbindable.
		{"unbindable", "unbindable", "shared:"},
		{"runbindable", "unbindable", "shared:"},
	}
	var sc []specCase
	for _, tc := range cases {
		sc = append(sc, specCase{
			name: tc.propagation,
			setup: func(t *testing.T, c *container) {
				c.Spec.Linux.RootfsPropagation = tc.propagation
				c.writeSpec()
			},
			script: "grep '^[0-9]* [0-9]* [^ ]* [^ ]* / ' /proc/self/mountinfo",
			check: func(t *testing.T, c *container, out string) {
				// Optional fields sit between the mount options and " - ".
				opt := out[:max(strings.Index(out, " - "), 0)]
				if tc.want == "master:" && !hostRootShared(t) {
					t.Logf("the host's / is not shared: a slave root mount has no master to show")
				} else if tc.want != "" && !strings.Contains(opt, tc.want) {
					t.Errorf("rootfsPropagation %s: root mount %q lacks %q", tc.propagation, out, tc.want)
				}
				if strings.Contains(opt, tc.notWant) {
					t.Errorf("rootfsPropagation %s: root mount %q has %q", tc.propagation, out, tc.notWant)
				}
			},
		})
	}
	runSpecCases(t, sc)
}

func TestSpecSysctl(t *testing.T) {
	t.Parallel()
	host, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		t.Skipf("no ip_forward sysctl: %v", err)
	}
	runSpecCases(t, []specCase{{
		name: "ip_forward-in-netns",
		setup: func(t *testing.T, c *container) {
			c.Spec.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"}
			c.writeSpec()
		},
		script: "echo fwd=$(cat /proc/sys/net/ipv4/ip_forward) shm=$(cat /proc/sys/kernel/shm_rmid_forced)",
		want:   []string{"fwd=1 shm=1"},
		check: func(t *testing.T, c *container, out string) {
			if now, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); string(now) != string(host) {
				t.Errorf("host ip_forward changed from %q to %q", host, now)
			}
		},
	}})
}

// capMask is the /proc/PID/status form of a capability set.
func capMask(t *testing.T, names []string) string {
	numbers := map[string]uint{
		"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_FOWNER": 3, "CAP_KILL": 5, "CAP_SETGID": 6,
		"CAP_SETUID": 7, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_RAW": 13, "CAP_SYS_CHROOT": 18,
		"CAP_SYS_ADMIN": 21, "CAP_MKNOD": 27, "CAP_AUDIT_WRITE": 29,
	}
	var m uint64
	for _, n := range names {
		bit, ok := numbers[n]
		if !ok {
			t.Fatalf("capMask: add %s to the table", n)
		}
		m |= 1 << bit
	}
	return fmt.Sprintf("%016x", m)
}

func TestSpecProcess(t *testing.T) {
	t.Parallel()
	runSpecCases(t, []specCase{
		{
			name: "args-env-cwd",
			setup: func(t *testing.T, c *container) {
				c.Spec.Process.Env = append(c.Spec.Process.Env, "E2E_VAR=hello world")
				c.Spec.Process.Cwd = "/usr/bin"
				c.writeSpec()
			},
			script: `echo "var=$E2E_VAR"; echo cwd=$(pwd); echo path=$PATH`,
			want:   []string{"var=hello world", "cwd=/usr/bin", "path=/usr/local/sbin:"},
		},
		{
			name: "user-groups",
			setup: func(t *testing.T, c *container) {
				c.Spec.Process.User = specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{2000, 2001}}
				c.writeSpec()
			},
			script: "echo uid=$(id -u) gid=$(id -g); grep -E '^(Uid|Gid|Groups):' /proc/self/status",
			want:   []string{"uid=1000 gid=1001"},
			check: func(t *testing.T, c *container, out string) {
				norm := strings.Join(strings.Fields(out), " ")
				wantContains(t, norm, "Uid: 1000 1000 1000 1000", "Gid: 1001 1001 1001 1001")
				// The primary gid may be repeated among the groups, as runc does.
				groups := strings.Fields(field(strings.ReplaceAll(out, "Groups:", "Groups="), "Groups"))
				if g := strings.Join(groups, " "); g != "2000 2001" && g != "1001 2000 2001" {
					t.Errorf("supplementary groups %q, want 2000 2001", g)
				}
			},
		},
		{
			name: "umask",
			setup: func(t *testing.T, c *container) {
				u := uint32(0o027)
				c.Spec.Process.User.Umask = &u
				c.writeSpec()
			},
			script: "echo umask=$(umask)",
			want:   []string{"umask=0027"},
		},
		{
			name: "capabilities",
			setup: func(t *testing.T, c *container) {
				caps := c.Spec.Process.Capabilities
				caps.Bounding = append(caps.Bounding, "CAP_CHOWN", "CAP_SYS_CHROOT")
				caps.Effective = append(caps.Effective, "CAP_CHOWN")
				caps.Permitted = append(caps.Permitted, "CAP_CHOWN")
				c.writeSpec()
			},
			script: "grep -E '^Cap(Eff|Prm|Bnd|Inh|Amb):' /proc/self/status",
			check: func(t *testing.T, c *container, out string) {
				caps := c.Spec.Process.Capabilities
				norm := strings.Join(strings.Fields(out), " ")
				wantContains(t, norm,
					"CapEff: "+capMask(t, caps.Effective), "CapPrm: "+capMask(t, caps.Permitted),
					"CapBnd: "+capMask(t, caps.Bounding), "CapInh: "+capMask(t, caps.Inheritable),
					"CapAmb: "+capMask(t, caps.Ambient))
			},
		},
		{
			name: "rlimits",
			setup: func(t *testing.T, c *container) {
				c.Spec.Process.Rlimits = []specs.POSIXRlimit{
					{Type: "RLIMIT_NOFILE", Soft: 256, Hard: 512},
					{Type: "RLIMIT_NPROC", Soft: 300, Hard: 400},
				}
				c.writeSpec()
			},
			script: "echo soft=$(ulimit -n) hard=$(ulimit -Hn); grep -E 'Max (open files|processes)' /proc/self/limits",
			check: func(t *testing.T, c *container, out string) {
				norm := strings.Join(strings.Fields(out), " ")
				wantContains(t, norm, "soft=256 hard=512", "Max open files 256 512", "Max processes 300 400")
			},
		},
		{
			name:   "noNewPrivileges-true",
			script: "grep NoNewPrivs /proc/self/status",
			check: func(t *testing.T, c *container, out string) {
				wantContains(t, strings.Join(strings.Fields(out), " "), "NoNewPrivs: 1")
			},
		},
		{
			name:   "noNewPrivileges-false",
			setup:  func(t *testing.T, c *container) { c.Spec.Process.NoNewPrivileges = false; c.writeSpec() },
			script: "grep NoNewPrivs /proc/self/status",
			check: func(t *testing.T, c *container, out string) {
				wantContains(t, strings.Join(strings.Fields(out), " "), "NoNewPrivs: 0")
			},
		},
		{
			name: "oomScoreAdj",
			setup: func(t *testing.T, c *container) {
				v := 123
				c.Spec.Process.OOMScoreAdj = &v
				c.writeSpec()
			},
			script: "echo oom=$(cat /proc/self/oom_score_adj)",
			want:   []string{"oom=123"},
		},
		{
			name:   "no-fd-leak",
			script: "ls /proc/self/fd | tr '\\n' ' '",
			check: func(t *testing.T, c *container, out string) {
				// 0-2 are stdio, 3 is the directory ls itself reads.
				if strings.TrimSpace(out) != "0 1 2 3" {
					t.Errorf("fds in the container: %q, want 0 1 2 3 (3 being ls's own)", out)
				}
			},
		},
	})
}

// hostRootShared reports whether this process's / mount is shared.
func hostRootShared(t *testing.T) bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 6 && f[4] == "/" {
			return strings.Contains(line[:strings.Index(line, " - ")], "shared:")
		}
	}
	return false
}
