package nspawnconv

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/hull-runtime/hull/nspawnconv/syscontainer"
)

// Keys is the single table of every .nspawn key and systemd-nspawn flag
// (systemd 252): how it is parsed, its precedence group, whether untrusted
// files may set it, and what hull does with it. Built on first use: as a package variable its
// 2,900 allocations were paid by every hull command at start.
var Keys = sync.OnceValue(buildKeys)

func buildKeys() []KeyDef {
	keys := append(execKeys(), filesKeys()...)
	keys = append(keys, networkKeys()...)
	keys = append(keys, rlimitKeys()...)
	return append(keys, cliKeys()...)
}

func execKeys() []KeyDef {
	return []KeyDef{
		{Section: "Exec", Key: "Boot", Flags: []string{"-b", "--boot"}, arg: argNone, noArg: "yes", Group: GroupStartMode, Kind: KindMapped,
			What:  "boot profile: init resolved in the rootfs as process.args[0], nspawn's booted-machine namespaces, mounts, capabilities, devices; kill signal SIGRTMIN+3 as annotation",
			parse: startModeField(func(s *Settings) (*bool, *bool) { return &s.Boot, &s.ProcessTwo })},
		{Section: "Exec", Key: "Ephemeral", Flags: []string{"-x", "--ephemeral"}, arg: argNone, noArg: "yes", Group: GroupEphemeral, Kind: KindHooked,
			What:  "pre-step: overlay of the image with a throw-away tmpfs upper as root.path; poststop hook unmounts it",
			parse: boolField(func(s *Settings) *bool { return &s.Ephemeral })},
		{Section: "Exec", Key: "ProcessTwo", Flags: []string{"-a", "--as-pid2"}, arg: argNone, noArg: "yes", Group: GroupStartMode, Kind: KindHooked,
			What:  "stub init (hull-stubinit, Options.InitPath) copied into the bundle (run-host/init) and bound read-only at /run/host/init as PID 1, payload as PID 2; refused without an init path",
			parse: startModeField(func(s *Settings) (*bool, *bool) { return &s.ProcessTwo, &s.Boot })},
		{Section: "Exec", Key: "Parameters", Group: GroupParameters, Kind: KindMapped,
			What:  "process.args (command, or init arguments with Boot=); CLI: everything after the options",
			parse: listField(func(s *Settings) *[]string { return &s.Parameters }, false, nil)},
		{Section: "Exec", Key: "Environment", Flags: []string{"-E", "--setenv"}, arg: argRequired, Group: GroupEnvironment, Kind: KindMapped,
			What: "process.env, overriding nspawn's defaults; CLI NAME without = copies the caller's value", parse: parseEnvironment},
		{Section: "Exec", Key: "User", Flags: []string{"-u", "--user"}, arg: argRequired, Group: GroupUser, Kind: KindMapped,
			What:  "process.user uid/gid/additionalGids resolved in the rootfs /etc/passwd and /etc/group; HOME, USER, LOGNAME",
			parse: stringField(func(s *Settings) *string { return &s.User })},
		{Section: "Exec", Key: "WorkingDirectory", Flags: []string{"--chdir"}, arg: argRequired, Group: GroupWorkingDirectory, Kind: KindMapped,
			What: "process.cwd", parse: absPathField(func(s *Settings) *string { return &s.WorkingDirectory })},
		{Section: "Exec", Key: "PivotRoot", Flags: []string{"--pivot-root"}, arg: argRequired, Group: GroupPivotRoot, Kind: KindMapped,
			What: "root.path = rootfs/NEW; :OLD becomes an rbind of the image at OLD", parse: parsePivotRoot},
		{Section: "Exec", Key: "Capability", Flags: []string{"--capability"}, arg: argRequired, Group: GroupCapability, Privileged: true, Kind: KindMapped,
			What: "added to process.capabilities bounding/effective/permitted (intersected with the host bounding set, with a warning)", parse: capField(func(s *Settings) *[]string { return &s.Capability })},
		{Section: "Exec", Key: "DropCapability", Flags: []string{"--drop-capability"}, arg: argRequired, Group: GroupCapability, Kind: KindMapped,
			What: "removed from process.capabilities (honoured even from untrusted files)", parse: capField(func(s *Settings) *[]string { return &s.DropCapability })},
		{Section: "Exec", Key: "AmbientCapability", Flags: []string{"--ambient-capability"}, arg: argRequired, Group: GroupAmbientCapability, Privileged: true, Kind: KindMapped,
			What: "process.capabilities ambient+inheritable (+effective/permitted for non-root); refused with Boot= like nspawn", parse: capField(func(s *Settings) *[]string { return &s.AmbientCapability })},
		{Section: "Exec", Key: "NoNewPrivileges", Flags: []string{"--no-new-privileges"}, arg: argRequired, Group: GroupNoNewPrivileges, Kind: KindMapped,
			What: "process.noNewPrivileges (default false, as nspawn)", parse: boolField(func(s *Settings) *bool { return &s.NoNewPrivileges })},
		{Section: "Exec", Key: "KillSignal", Flags: []string{"--kill-signal"}, arg: argRequired, Group: GroupKillSignal, Kind: KindHooked,
			What: "annotation " + syscontainer.AnnotationKillSignal + " (OCI has no stop signal); default SIGRTMIN+3 with Boot=", parse: parseKillSignal},
		{Section: "Exec", Key: "Personality", Flags: []string{"--personality"}, arg: argRequired, Group: GroupPersonality, Kind: KindMapped,
			What: "linux.personality LINUX32 (x86) or LINUX (x86-64)", parse: enumField(func(s *Settings) *string { return &s.Personality }, "x86", "x86-64")},
		{Section: "Exec", Key: "MachineID", Flags: []string{"--uuid"}, arg: argRequired, Group: GroupMachineID, Privileged: true, Kind: KindMapped,
			What: "container_uuid in process.env and /run/host/container-uuid (unless the image has a machine ID)", parse: parseMachineID},
		{Section: "Exec", Key: "PrivateUsers", Flags: []string{"--private-users"}, arg: argOptional, noArg: "yes", Group: GroupPrivateUsers, Privileged: true, Kind: KindMapped,
			What: "user namespace with uidMappings/gidMappings (yes: owner of the root dir; pick: that or a range hashed from the machine name); createRuntime hook chowns the cgroup", parse: parsePrivateUsersField},
		{Section: "Exec", Key: "NotifyReady", Flags: []string{"--notify-ready"}, arg: argRequired, Group: GroupNotifyReady, Kind: KindHooked,
			What: "annotation " + syscontainer.AnnotationNotifyReady + "; the engine passes NOTIFY_SOCKET to the runtime", parse: boolField(func(s *Settings) *bool { return &s.NotifyReady })},
		{Section: "Exec", Key: "SystemCallFilter", Flags: []string{"--system-call-filter"}, arg: argRequired, Group: GroupSystemCallFilter, Privileged: true, Kind: KindMapped,
			What: "linux.seccomp: nspawn 252's allow-list filter (sysfilter) plus the allow entries, minus the ~ entries (matched literally, as nspawn does); @groups resolved", parse: parseSyscallFilter},
		{Section: "Exec", Key: "OOMScoreAdjust", Flags: []string{"--oom-score-adjust"}, arg: argRequired, Group: GroupOOMScoreAdjust, Privileged: true, Kind: KindMapped,
			What: "process.oomScoreAdj", parse: parseOOMScore},
		{Section: "Exec", Key: "CPUAffinity", Flags: []string{"--cpu-affinity"}, arg: argRequired, Group: GroupCPUAffinity, Privileged: true, Kind: KindMapped,
			What: "linux.resources.cpu.cpus (a cpuset: also forbids re-pinning, stricter than affinity)", parse: func(s *Settings, v string, _ *parseCtx) error {
				cpus, err := parseCPUSet(v)
				s.CPUAffinity = cpus
				return err
			}},
		{Section: "Exec", Key: "Hostname", Flags: []string{"--hostname"}, arg: argRequired, Group: GroupHostname, Kind: KindMapped,
			What: "hostname (default: machine name)", parse: parseHostname},
		{Section: "Exec", Key: "ResolvConf", Flags: []string{"--resolv-conf"}, arg: argRequired, Group: GroupResolvConf, Kind: KindHooked,
			What:  "bind-*: ro bind mount; copy-*/replace-*/delete: pre-step on the rootfs; auto: off with private network, else copy-host (bind-host if read-only)",
			parse: enumField(func(s *Settings) *string { return &s.ResolvConf }, resolvConfModes...)},
		{Section: "Exec", Key: "Timezone", Flags: []string{"--timezone"}, arg: argRequired, Group: GroupTimezone, Kind: KindHooked,
			What:  "bind: ro bind of /etc/localtime; symlink/copy/delete: pre-step on the rootfs; auto follows the host",
			parse: enumField(func(s *Settings) *string { return &s.Timezone }, "off", "copy", "bind", "symlink", "delete", "auto")},
		{Section: "Exec", Key: "LinkJournal", Flags: []string{"--link-journal"}, arg: argRequired, Group: GroupLinkJournal, Privileged: true, Kind: KindHooked,
			What: "host/try-host/auto: pre-step mkdir + bind of /var/log/journal/<id>; guest/try-guest: pre-step host symlink", parse: parseLinkJournal},
		{Section: "Exec", Key: "SuppressSync", Flags: []string{"--suppress-sync"}, arg: argRequired, Group: GroupSuppressSync, Kind: KindMapped,
			What: "linux.seccomp rules in nspawn's filter: sync family returns 0, O_SYNC opens EINVAL, openat2 ENOSYS", parse: boolField(func(s *Settings) *bool { return &s.SuppressSync })},
	}
}

var resolvConfModes = []string{"off", "copy-host", "copy-static", "copy-uplink", "copy-stub",
	"replace-host", "replace-static", "replace-uplink", "replace-stub",
	"bind-host", "bind-static", "bind-uplink", "bind-stub", "delete", "auto"}

func filesKeys() []KeyDef {
	return []KeyDef{
		{Section: "Files", Key: "ReadOnly", Flags: []string{"--read-only"}, arg: argNone, noArg: "yes", Group: GroupReadOnly, Kind: KindMapped,
			What: "root.readonly", parse: boolField(func(s *Settings) *bool { return &s.ReadOnly })},
		{Section: "Files", Key: "Volatile", Flags: []string{"--volatile"}, arg: argOptional, noArg: "yes", Group: GroupVolatile, Kind: KindHooked,
			What: "state: root.readonly + tmpfs /var; overlay: pre-step tmpfs+overlay as root.path; yes: pre-step tmpfs root + ro bind of /usr", parse: parseVolatile},
		{Section: "Files", Key: "Bind", Flags: []string{"--bind"}, arg: argRequired, Group: GroupCustomMounts, Privileged: true, Kind: KindMapped,
			What: "mounts bind (rbind/bind; idmap/rootidmap with uid/gid mappings); empty source: pre-step temp dir", parse: bindField(false)},
		{Section: "Files", Key: "BindReadOnly", Flags: []string{"--bind-ro"}, arg: argRequired, Group: GroupCustomMounts, Privileged: true, Kind: KindMapped,
			What: "mounts bind + ro", parse: bindField(true)},
		{Section: "Files", Key: "BindUser", Flags: []string{"--bind-user"}, arg: argRequired, Group: GroupBindUser, Privileged: true, Kind: KindHooked,
			What:  "needs PrivateUsers=: container id from 60514…60577 cut out of linux.uidMappings/gidMappings for the host uid/gid, home rbound at /run/host/home/NAME, pre-step writes JSON user/group records (+ 0600 password hash) into the bundle's /run/host/userdb",
			parse: listField(func(s *Settings) *[]string { return &s.BindUsers }, false, nil)},
		{Section: "Files", Key: "TemporaryFileSystem", Flags: []string{"--tmpfs"}, arg: argRequired, Group: GroupCustomMounts, Privileged: true, Kind: KindMapped,
			What: "mounts tmpfs (default mode=0755) + nodev,strictatime", parse: func(s *Settings, v string, _ *parseCtx) error {
				if v == "" {
					s.TmpFS = nil
					return nil
				}
				t, err := parseTmpfs(v)
				s.TmpFS = append(s.TmpFS, t)
				return err
			}},
		{Section: "Files", Key: "Inaccessible", Flags: []string{"--inaccessible"}, arg: argRequired, Group: GroupCustomMounts, Privileged: true, Kind: KindMapped,
			What:  "linux.maskedPaths",
			parse: listField(func(s *Settings) *[]string { return &s.Inaccessible }, false, checkAbs)},
		{Section: "Files", Key: "Overlay", Flags: []string{"--overlay"}, arg: argRequired, Group: GroupCustomMounts, Privileged: true, Kind: KindHooked,
			What: "mounts overlay (lowerdir reversed); pre-step creates the workdir (and a temp upper)", parse: overlayField(false)},
		{Section: "Files", Key: "OverlayReadOnly", Flags: []string{"--overlay-ro"}, arg: argRequired, Group: GroupCustomMounts, Privileged: true, Kind: KindMapped,
			What: "mounts overlay with only lowerdir, ro", parse: overlayField(true)},
		{Section: "Files", Key: "PrivateUsersOwnership", Flags: []string{"--private-users-ownership"}, arg: argRequired, Group: GroupPrivateUsersOwnership, Privileged: true, Kind: KindHooked,
			What:  "chown/auto: pre-step shifting the rootfs ownership into the range; map: refused (no idmapped root in OCI); off: nothing",
			parse: enumField(func(s *Settings) *string { return &s.PrivateUsersOwnership }, "off", "chown", "map", "auto")},
		{Section: "Files", Key: "PrivateUsersChown", Group: GroupPrivateUsersOwnership, Privileged: true, Kind: KindHooked,
			What: "legacy alias: yes = PrivateUsersOwnership=chown, no = off", parse: func(s *Settings, v string, _ *parseCtx) error {
				b, err := ParseBoolean(v)
				s.PrivateUsersOwnership = map[bool]string{true: "chown", false: "off"}[b]
				return err
			}},
	}
}

func networkKeys() []KeyDef {
	return []KeyDef{
		{Section: "Network", Key: "Private", Flags: []string{"--private-network"}, arg: argNone, noArg: "yes", Group: GroupNetwork, Privileged: true, Kind: KindMapped,
			What: "network namespace (lo only), CAP_NET_ADMIN, /proc/sys/net writable", parse: boolField(func(s *Settings) *bool { return &s.PrivateNetwork })},
		{Section: "Network", Key: "VirtualEthernet", Flags: []string{"-n", "--network-veth"}, arg: argNone, noArg: "yes", Group: GroupNetwork, Privileged: true, Kind: KindHooked,
			What: "createRuntime hook add-veth: veth ve-<machine>/host0 (name shortened with a hash past 15 bytes; stable MACs from the machine name), host end up; poststop removes it", parse: boolField(func(s *Settings) *bool { return &s.VirtualEthernet })},
		{Section: "Network", Key: "VirtualEthernetExtra", Flags: []string{"--network-veth-extra"}, arg: argRequired, Group: GroupNetwork, Privileged: true, Kind: KindHooked,
			What: "createRuntime hook add-veth per HOST[:CONTAINER] pair; poststop removes the host end", parse: parseVethExtra},
		{Section: "Network", Key: "Interface", Flags: []string{"--network-interface"}, arg: argRequired, Group: GroupNetwork, Privileged: true, Kind: KindMapped,
			What:  "linux.netDevices (runtime-spec 1.3 moves the host interface into the netns)",
			parse: listField(func(s *Settings) *[]string { return &s.Interfaces }, false, checkIfName)},
		{Section: "Network", Key: "MACVLAN", Flags: []string{"--network-macvlan"}, arg: argRequired, Group: GroupNetwork, Privileged: true, Kind: KindHooked,
			What: "createRuntime hook add-macvlan: bridge-mode macvlan mv-<if> on the host interface, made inside the container's netns", parse: listField(func(s *Settings) *[]string { return &s.MACVLAN }, false, checkIfName)},
		{Section: "Network", Key: "IPVLAN", Flags: []string{"--network-ipvlan"}, arg: argRequired, Group: GroupNetwork, Privileged: true, Kind: KindHooked,
			What: "createRuntime hook add-ipvlan: L2 ipvlan iv-<if> on the host interface, made inside the container's netns", parse: listField(func(s *Settings) *[]string { return &s.IPVLAN }, false, checkIfName)},
		{Section: "Network", Key: "Bridge", Flags: []string{"--network-bridge"}, arg: argRequired, Group: GroupNetwork, Privileged: true, Kind: KindHooked,
			What: "veth vb-<machine>/host0 whose host end joins the existing bridge (hook add-veth)", parse: func(s *Settings, v string, _ *parseCtx) error {
				s.Bridge = v
				if v == "" {
					return nil
				}
				return checkIfName(v)
			}},
		{Section: "Network", Key: "Zone", Flags: []string{"--network-zone"}, arg: argRequired, Group: GroupNetwork, Privileged: true, Kind: KindHooked,
			What: "hook add-zone makes bridge vz-<zone> if missing, veth vb-<machine> joins it; poststop deletes the bridge once no port is left", parse: func(s *Settings, v string, _ *parseCtx) error {
				s.Zone = v
				if v == "" {
					return nil
				}
				return checkIfName("vz-" + v)
			}},
		{Section: "Network", Key: "Port", Flags: []string{"-p", "--port"}, arg: argRequired, Group: GroupPorts, Privileged: true, Kind: KindHooked,
			What: "createRuntime hook add-ports: nftables DNAT (table hull-ports-ID) from local addresses but loopback to the container's address, kept current while it runs; poststop remove-ports", parse: func(s *Settings, v string, _ *parseCtx) error {
				if v == "" {
					s.Ports = nil
					return nil
				}
				p, err := parsePort(v)
				if err == nil && slices.ContainsFunc(s.Ports, func(q PortForward) bool { return q.Protocol == p.Protocol && q.Host == p.Host }) {
					return fmt.Errorf("duplicate port specification %q (as nspawn)", v)
				}
				s.Ports = append(s.Ports, p)
				return err
			}},
	}
}

func rlimitKeys() []KeyDef {
	var keys []KeyDef
	for _, n := range RlimitNames() {
		res := n
		key := "Limit" + res
		keys = append(keys, KeyDef{Section: "Exec", Key: key, Group: GroupRlimit, Privileged: true, Kind: KindMapped,
			What: "process.rlimits RLIMIT_" + res,
			parse: func(s *Settings, v string, _ *parseCtx) error {
				return setRlimit(s, res, v)
			}})
	}
	return keys
}

func setRlimit(s *Settings, res, v string) error {
	if s.Rlimits == nil {
		s.Rlimits = map[string]Rlimit{}
	}
	if v == "" {
		delete(s.Rlimits, "RLIMIT_"+res)
		return nil
	}
	l, err := parseRlimit(res, v)
	if err != nil {
		return err
	}
	s.Rlimits["RLIMIT_"+res] = l
	return nil
}

func checkAbs(p string) error {
	if !path.IsAbs(p) {
		return fmt.Errorf("path %q is not absolute", p)
	}
	return nil
}

func bindField(ro bool) func(*Settings, string, *parseCtx) error {
	return func(s *Settings, v string, _ *parseCtx) error {
		if v == "" {
			s.Binds = nil
			return nil
		}
		b, err := parseBind(v, ro)
		if err != nil {
			return err
		}
		s.Binds = append(s.Binds, b)
		return nil
	}
}

func overlayField(ro bool) func(*Settings, string, *parseCtx) error {
	return func(s *Settings, v string, _ *parseCtx) error {
		if v == "" {
			s.Overlays = nil
			return nil
		}
		o, err := parseOverlay(v, ro)
		if err != nil {
			return err
		}
		s.Overlays = append(s.Overlays, o)
		return nil
	}
}

// KeyTableMarkdown renders Keys as the docs/nspawn-keys.md table.
func KeyTableMarkdown() string {
	var b strings.Builder
	counts := map[Kind]int{}
	for _, k := range Keys() {
		counts[k.Kind]++
	}
	b.WriteString("# systemd-nspawn settings in hull\n\n")
	b.WriteString("Generated from `nspawnconv.Keys` by `KeyTableMarkdown()`; do not edit.\n\n")
	fmt.Fprintf(&b, "%d keys and flags: %d mapped (config.json fields), %d hooked (pre-step, hook or annotation), %d refused.\n\n",
		len(Keys()), counts[KindMapped], counts[KindHooked], counts[KindRefused])
	b.WriteString("| Section | Key | Flags | Privileged | Kind | What hull does |\n|---|---|---|---|---|---|\n")
	for _, k := range Keys() {
		sec, key := k.Section, k.Key
		if sec == "" {
			sec = "(command line)"
		}
		if key == "" {
			key = "—"
		} else {
			key = "`" + key + "=`"
		}
		flags := "—"
		if len(k.Flags) > 0 {
			flags = "`" + strings.Join(k.Flags, "`, `") + "`"
		}
		priv := ""
		if k.Privileged {
			priv = "yes"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", sec, key, flags, priv, k.Kind,
			strings.ReplaceAll(k.What, "|", "\\|"))
	}
	return b.String()
}

// KindCounts returns how many table rows are mapped, hooked and refused.
func KindCounts() map[Kind]int {
	counts := map[Kind]int{}
	for _, k := range Keys() {
		counts[k.Kind]++
	}
	return counts
}
