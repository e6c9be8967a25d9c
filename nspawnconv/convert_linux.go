package nspawnconv

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func (cv *converter) setupLinux() error {
	s, l := cv.s, cv.spec.Linux
	l.Namespaces = []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace},
		{Type: specs.UTSNamespace}, {Type: specs.MountNamespace}}
	if s.NetworkNamespacePath != "" {
		l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: s.NetworkNamespacePath})
	} else if cv.privNet {
		l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	}
	l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	if cv.userns {
		l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	}
	l.CgroupsPath = cv.cgroupsPath()
	l.RootfsPropagation = "shared"
	l.MountLabel = s.SELinuxAPIFSContext
	l.Devices = []specs.LinuxDevice{{Path: "/dev/net/tun", Type: "c", Major: 10, Minor: 200, FileMode: ptr(os.FileMode(0o600))}}
	l.Resources = &specs.LinuxResources{Devices: nspawnDeviceRules()}
	if s.CPUAffinity != "" {
		l.Resources.CPU = &specs.LinuxCPU{Cpus: s.CPUAffinity}
		cv.warn("CPUAffinity=%s: a cpuset in OCI (linux.resources.cpu.cpus), stricter than nspawn's affinity: processes cannot be moved to other CPUs", s.CPUAffinity)
	}
	switch s.Personality {
	case "x86":
		l.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
	case "x86-64":
		l.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux}
	}
	if len(s.Interfaces) > 0 {
		l.NetDevices = map[string]specs.LinuxNetDevice{}
		for _, i := range s.Interfaces {
			l.NetDevices[i] = specs.LinuxNetDevice{}
		}
	}
	l.MaskedPaths = []string{"/proc/kallsyms", "/proc/kcore", "/proc/keys", "/proc/sysrq-trigger",
		"/proc/timer_list", "/proc/latency_stats", "/proc/sched_debug", "/proc/timer_stats", "/sys/firmware"}
	if !cv.o.CgroupV2 {
		l.MaskedPaths = append(l.MaskedPaths, "/sys/fs/cgroup/systemd/release_agent")
	}
	l.MaskedPaths = append(l.MaskedPaths, s.Inaccessible...)
	if cv.privNet {
		// runc refuses mounts inside /proc, so "ro /proc/sys, rw /proc/sys/net"
		// is spelled as every /proc/sys sub-directory but net.
		for _, d := range []string{"abi", "crypto", "debug", "dev", "fs", "kernel", "user", "vm"} {
			l.ReadonlyPaths = append(l.ReadonlyPaths, "/proc/sys/"+d)
		}
	} else {
		l.ReadonlyPaths = []string{"/proc/sys"}
	}
	l.ReadonlyPaths = append(l.ReadonlyPaths, "/proc/acpi", "/proc/apm", "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/scsi")
	return nil
}

func ptr[T any](v T) *T { return &v }

// nspawnDeviceRules is DevicePolicy=closed plus nspawn's DeviceAllow= set:
// null, zero, full, random, urandom, tty, ptmx, char-pts and /dev/net/tun.
// Never 5:1: nspawn's /dev/console is a pty (char-pts), and allowing the
// host console node would let a machine with CAP_MKNOD create and open it.
func nspawnDeviceRules() []specs.LinuxDeviceCgroup {
	rules := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	for _, mm := range [][2]int64{{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 2}} {
		rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr(mm[0]), Minor: ptr(mm[1]), Access: "rwm"})
	}
	return append(rules,
		specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr[int64](136), Access: "rw"},
		specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr[int64](10), Minor: ptr[int64](200), Access: "rwm"})
}

func (cv *converter) cgroupsPath() string {
	if cv.o.CgroupsPath != "" {
		return cv.o.CgroupsPath
	}
	slice := cv.s.Slice
	if slice == "" {
		slice = "machine.slice"
	}
	return slicePath(slice) + "/machine-" + unitEscape(cv.c.MachineName) + ".scope"
}

// slicePath expands "a-b.slice" to systemd's nested "/a.slice/a-b.slice".
func slicePath(slice string) string {
	name := strings.TrimSuffix(slice, ".slice")
	if name == "" || name == "-" {
		return ""
	}
	var p string
	parts := strings.Split(name, "-")
	for i := range parts {
		p += "/" + strings.Join(parts[:i+1], "-") + ".slice"
	}
	return p
}

// unitEscape escapes a machine name for a unit name like systemd does.
func unitEscape(n string) string {
	var b strings.Builder
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c == '-' || c == '\\' || (c == '.' && i == 0) {
			fmt.Fprintf(&b, "\\x%02x", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func tmpfsMount(dst, src string, opts ...string) specs.Mount {
	return specs.Mount{Destination: dst, Type: "tmpfs", Source: src, Options: opts}
}

// setupMounts adds nspawn's API file systems.
func (cv *converter) setupMounts() error {
	m := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		tmpfsMount("/dev", "tmpfs", "nosuid", "strictatime", "mode=755", "size=4m", "nr_inodes=64k"),
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		tmpfsMount("/dev/shm", "shm", "nosuid", "nodev", "strictatime", "mode=1777", "size=10%", "nr_inodes=400k"),
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
	}
	if cv.userns && !cv.privNet {
		// A user namespace may only mount sysfs for a network namespace it owns.
		m = append(m, specs.Mount{Destination: "/sys", Type: "bind", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro", "rro"}})
	} else {
		m = append(m, specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}})
	}
	if cv.o.CgroupV2 {
		m = append(m, specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "rw"}})
	} else {
		cg := cv.spec.Linux.CgroupsPath
		if !path.IsAbs(cg) || strings.Contains(cg, ":") {
			return &RefusedError{Key: "cgroupsPath", Reason: fmt.Sprintf("%q: a cgroup v1 host needs an absolute cgroupfs path to bind the name=systemd hierarchy", cg)}
		}
		m = append(m,
			specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
			specs.Mount{Destination: "/sys/fs/cgroup/systemd", Type: "bind", Source: "/sys/fs/cgroup/systemd" + cg, Options: []string{"rbind", "rw", "nosuid", "nodev", "noexec"}})
	}
	m = append(m, tmpfsMount("/run", "tmpfs", "nosuid", "nodev", "strictatime", "mode=755", "size=20%", "nr_inodes=800k"))
	if !cv.coversTmp() {
		m = append(m, tmpfsMount("/tmp", "tmpfs", "nosuid", "nodev", "strictatime", "mode=1777", "size=10%", "nr_inodes=400k"))
	}
	if cv.s.Volatile == "state" {
		m = append(m, tmpfsMount("/var", "tmpfs", "mode=755", "size=25%", "nr_inodes=1m", "nosuid", "nodev"))
	}
	// Mounts set up earlier (pivot-root OLD, volatile /usr) go after the API file systems.
	cv.spec.Mounts = append(m, cv.spec.Mounts...)
	return nil
}

func (cv *converter) coversTmp() bool {
	for _, b := range cv.s.Binds {
		if path.Clean(b.Dest) == "/tmp" {
			return true
		}
	}
	for _, t := range cv.s.TmpFS {
		if t.Path == "/tmp" {
			return true
		}
	}
	return false
}

// setupRunHost writes /run/host (container-manager, container-uuid,
// os-release) into the bundle and binds it read-only.
func (cv *converter) setupRunHost() error {
	dir := cv.bundlePath("run-host")
	mk := func(name, data string) {
		cv.pre(PreStep{Action: ActionWriteFile, Path: filepath.Join(dir, name), Data: data, Mode: 0o444, Key: "/run/host"})
	}
	cv.pre(PreStep{Action: ActionMkdir, Path: dir, Mode: 0o755, Key: "/run/host"})
	mk("container-manager", cv.o.ContainerName+"\n")
	mk("container-uuid", cv.c.UUID+"\n")
	cv.pre(PreStep{Action: ActionCopyFile, Path: filepath.Join(dir, "os-release"), Source: cv.o.HostOSRelease, Mode: 0o444, Optional: true, Replace: true, Key: "/run/host"})
	if cv.s.ProcessTwo {
		// The stub is copied into the bundle, never bound from the host:
		// a container that remounts it writable spoils only this copy.
		// Bound again on its own because /run/host is noexec.
		stub := filepath.Join(dir, "init")
		cv.pre(PreStep{Action: ActionCopyFile, Path: stub, Source: cv.o.InitPath, Mode: 0o555, Replace: true, Key: "ProcessTwo="})
		cv.spec.Mounts = append(cv.spec.Mounts, specs.Mount{Destination: "/run/host/init", Type: "bind", Source: stub, Options: []string{"bind", "ro", "nosuid", "nodev"}})
	}
	if len(cv.s.Credentials) > 0 {
		cv.pre(PreStep{Action: ActionMkdir, Path: filepath.Join(dir, "credentials"), Mode: 0o755, Key: "--load-credential"})
	}
	mnt := specs.Mount{Destination: "/run/host", Type: "bind", Source: dir, Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}}
	// /run/host must precede the mounts nested in it.
	i := slices.IndexFunc(cv.spec.Mounts, func(m specs.Mount) bool { return strings.HasPrefix(m.Destination, "/run/host/") })
	if i < 0 {
		i = len(cv.spec.Mounts)
	}
	cv.spec.Mounts = slices.Insert(cv.spec.Mounts, i, mnt)
	return nil
}
