package nspawnconv

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

type keyCase struct {
	section, key, value string
	check               func(*Settings) any
	want                any
}

func sp(a ...any) string { return strings.TrimSuffix(fmt.Sprintln(a...), "\n") }

func u64(v uint64) uint64 { return v }

var keyCases = []keyCase{
	{"Exec", "Boot", "on", func(s *Settings) any { return s.Boot }, true},
	{"Exec", "Ephemeral", "yes", func(s *Settings) any { return s.Ephemeral }, true},
	{"Exec", "ProcessTwo", "1", func(s *Settings) any { return s.ProcessTwo }, true},
	{"Exec", "Parameters", `--foo "bar baz"`, func(s *Settings) any { return s.Parameters }, []string{"--foo", "bar baz"}},
	{"Exec", "Environment", `A=1 "B=x y"`, func(s *Settings) any { return s.Environment }, []string{"A=1", "B=x y"}},
	{"Exec", "User", "daemon", func(s *Settings) any { return s.User }, "daemon"},
	{"Exec", "WorkingDirectory", "/srv", func(s *Settings) any { return s.WorkingDirectory }, "/srv"},
	{"Exec", "PivotRoot", "/sysroot/ostree:/sysroot", func(s *Settings) any { return s.PivotRoot + "|" + s.PivotRootOld }, "/sysroot/ostree|/sysroot"},
	{"Exec", "Capability", "sys_time CAP_NET_ADMIN", func(s *Settings) any { return s.Capability }, []string{"CAP_SYS_TIME", "CAP_NET_ADMIN"}},
	{"Exec", "DropCapability", "cap_sys_ptrace", func(s *Settings) any { return s.DropCapability }, []string{"CAP_SYS_PTRACE"}},
	{"Exec", "AmbientCapability", "NET_RAW", func(s *Settings) any { return s.AmbientCapability }, []string{"CAP_NET_RAW"}},
	{"Exec", "NoNewPrivileges", "true", func(s *Settings) any { return s.NoNewPrivileges }, true},
	{"Exec", "KillSignal", "RTMIN+4", func(s *Settings) any { return s.KillSignal }, "SIGRTMIN+4"},
	{"Exec", "Personality", "x86", func(s *Settings) any { return s.Personality }, "x86"},
	{"Exec", "MachineID", "0123456789ABCDEF0123456789abcdef", func(s *Settings) any { return s.MachineID }, "01234567-89ab-cdef-0123-456789abcdef"},
	{"Exec", "PrivateUsers", "1048576:65536", func(s *Settings) any { return s.PrivateUsers }, PrivateUsers{Mode: UserNSFixed, Base: 1048576, Range: 65536}},
	{"Exec", "NotifyReady", "yes", func(s *Settings) any { return s.NotifyReady }, true},
	{"Exec", "SystemCallFilter", "~ptrace kexec_load", func(s *Settings) any { return s.SyscallDeny }, []string{"ptrace", "kexec_load"}},
	{"Exec", "OOMScoreAdjust", "-500", func(s *Settings) any { return *s.OOMScoreAdjust }, -500},
	{"Exec", "CPUAffinity", "0 2-3", func(s *Settings) any { return s.CPUAffinity }, "0,2-3"},
	{"Exec", "Hostname", "web.example", func(s *Settings) any { return s.Hostname }, "web.example"},
	{"Exec", "ResolvConf", "bind-static", func(s *Settings) any { return s.ResolvConf }, "bind-static"},
	{"Exec", "Timezone", "symlink", func(s *Settings) any { return s.Timezone }, "symlink"},
	{"Exec", "LinkJournal", "yes", func(s *Settings) any { return s.LinkJournal }, "auto"},
	{"Exec", "SuppressSync", "yes", func(s *Settings) any { return s.SuppressSync }, true},
	{"Files", "ReadOnly", "yes", func(s *Settings) any { return s.ReadOnly }, true},
	{"Files", "Volatile", "state", func(s *Settings) any { return s.Volatile }, "state"},
	{"Files", "Bind", `/a\:b:/c:norbind,idmap`, func(s *Settings) any { return s.Binds }, []BindMount{{Source: "/a:b", Dest: "/c", IDMap: "idmap"}}},
	{"Files", "BindReadOnly", "+/data", func(s *Settings) any { return s.Binds }, []BindMount{{Source: "+/data", Dest: "/data", ReadOnly: true, Recursive: true}}},
	{"Files", "BindUser", "alice bob", func(s *Settings) any { return s.BindUsers }, []string{"alice", "bob"}},
	{"Files", "TemporaryFileSystem", "/var/cache:mode=0700,size=10M", func(s *Settings) any { return s.TmpFS }, []TmpfsMount{{Path: "/var/cache", Options: "mode=0700,size=10M"}}},
	{"Files", "Inaccessible", "/etc/shadow /root", func(s *Settings) any { return s.Inaccessible }, []string{"/etc/shadow", "/root"}},
	{"Files", "Overlay", "/l1:/l2::/opt", func(s *Settings) any { return s.Overlays }, []OverlayMount{{Layers: []string{"/l1", "/l2", ""}, Dest: "/opt"}}},
	{"Files", "OverlayReadOnly", "/host/usr:/usr", func(s *Settings) any { return s.Overlays }, []OverlayMount{{Layers: []string{"/host/usr", "/usr"}, Dest: "/usr", ReadOnly: true}}},
	{"Files", "PrivateUsersOwnership", "chown", func(s *Settings) any { return s.PrivateUsersOwnership }, "chown"},
	{"Files", "PrivateUsersChown", "no", func(s *Settings) any { return s.PrivateUsersOwnership }, "off"},
	{"Network", "Private", "yes", func(s *Settings) any { return s.PrivateNetwork }, true},
	{"Network", "VirtualEthernet", "yes", func(s *Settings) any { return s.VirtualEthernet }, true},
	{"Network", "VirtualEthernetExtra", "vex:inside", func(s *Settings) any { return s.VirtualEthernetExtra }, []VethExtra{{Host: "vex", Container: "inside"}}},
	{"Network", "Interface", "eth1 eth2", func(s *Settings) any { return s.Interfaces }, []string{"eth1", "eth2"}},
	{"Network", "MACVLAN", "eth0", func(s *Settings) any { return s.MACVLAN }, []string{"eth0"}},
	{"Network", "IPVLAN", "eth0", func(s *Settings) any { return s.IPVLAN }, []string{"eth0"}},
	{"Network", "Bridge", "br0", func(s *Settings) any { return s.Bridge }, "br0"},
	{"Network", "Zone", "lab", func(s *Settings) any { return s.Zone }, "lab"},
	{"Exec", "PrivateUsers", "0", func(s *Settings) any { return s.PrivateUsers.Mode }, UserNSOff}, // the file's parse_boolean comes first
	{"Exec", "PrivateUsers", "524288:65536", func(s *Settings) any { return s.PrivateUsers }, PrivateUsers{Mode: UserNSFixed, Base: 524288, Range: 65536}},
	{"Network", "Port", "udp:53:5353", func(s *Settings) any { return s.Ports }, []PortForward{{Protocol: "udp", Host: 53, Container: 5353}}},
	{"Exec", "LimitCPU", "1min", func(s *Settings) any { return s.Rlimits["RLIMIT_CPU"] }, Rlimit{60, 60}},
	{"Exec", "LimitFSIZE", "1G", func(s *Settings) any { return s.Rlimits["RLIMIT_FSIZE"] }, Rlimit{1 << 30, 1 << 30}},
	{"Exec", "LimitDATA", "infinity", func(s *Settings) any { return s.Rlimits["RLIMIT_DATA"] }, Rlimit{infinity, infinity}},
	{"Exec", "LimitSTACK", "8M:infinity", func(s *Settings) any { return s.Rlimits["RLIMIT_STACK"] }, Rlimit{8 << 20, infinity}},
	{"Exec", "LimitCORE", "0", func(s *Settings) any { return s.Rlimits["RLIMIT_CORE"] }, Rlimit{0, 0}},
	{"Exec", "LimitRSS", "4K", func(s *Settings) any { return s.Rlimits["RLIMIT_RSS"] }, Rlimit{4096, 4096}},
	{"Exec", "LimitNOFILE", "1024:4096", func(s *Settings) any { return s.Rlimits["RLIMIT_NOFILE"] }, Rlimit{1024, 4096}},
	{"Exec", "LimitAS", "2T", func(s *Settings) any { return s.Rlimits["RLIMIT_AS"] }, Rlimit{2 << 40, 2 << 40}},
	{"Exec", "LimitNPROC", "512", func(s *Settings) any { return s.Rlimits["RLIMIT_NPROC"] }, Rlimit{512, 512}},
	{"Exec", "LimitMEMLOCK", "64K", func(s *Settings) any { return s.Rlimits["RLIMIT_MEMLOCK"] }, Rlimit{65536, 65536}},
	{"Exec", "LimitLOCKS", "100", func(s *Settings) any { return s.Rlimits["RLIMIT_LOCKS"] }, Rlimit{100, 100}},
	{"Exec", "LimitSIGPENDING", "300", func(s *Settings) any { return s.Rlimits["RLIMIT_SIGPENDING"] }, Rlimit{300, 300}},
	{"Exec", "LimitMSGQUEUE", "800K", func(s *Settings) any { return s.Rlimits["RLIMIT_MSGQUEUE"] }, Rlimit{800 << 10, 800 << 10}},
	{"Exec", "LimitNICE", "-5", func(s *Settings) any { return s.Rlimits["RLIMIT_NICE"] }, Rlimit{25, 25}},
	{"Exec", "LimitRTPRIO", "10", func(s *Settings) any { return s.Rlimits["RLIMIT_RTPRIO"] }, Rlimit{10, 10}},
	{"Exec", "LimitRTTIME", "2s", func(s *Settings) any { return s.Rlimits["RLIMIT_RTTIME"] }, Rlimit{u64(2e6), u64(2e6)}},
}

func parseOne(t *testing.T, section, key, value string) (*Settings, []string, error) {
	t.Helper()
	return ParseSettings(strings.NewReader(fmt.Sprintf("[%s]\n%s=%s\n", section, key, value)), "k.nspawn")
}

func TestEveryFileKey(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range keyCases {
		covered[tc.section+"."+tc.key] = true
		s, warns, err := parseOne(t, tc.section, tc.key, tc.value)
		if err != nil || len(warns) > 0 {
			t.Errorf("%s=%s: err %v, warnings %q", tc.key, tc.value, err, warns)
			continue
		}
		if got := tc.check(s); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s=%s: got %#v, want %#v", tc.key, tc.value, got, tc.want)
		}
		if def := lookupKey(tc.section, tc.key); !s.IsSet(def.Group) {
			t.Errorf("%s=%s: group %d not marked", tc.key, tc.value, def.Group)
		}
	}
	for _, k := range Keys() {
		if k.Key != "" && !covered[k.Section+"."+k.Key] {
			t.Errorf("key %s=%s has no test case", k.Section, k.Key)
		}
	}
}

func TestInvalidValuesNameFileLineKeyValue(t *testing.T) {
	bad := []struct{ section, key, value string }{
		{"Exec", "Boot", "maybe"}, {"Exec", "Capability", "CAP_FLY"}, {"Exec", "KillSignal", "SIGFOO"},
		{"Exec", "KillSignal", "RTMIN+99"}, {"Exec", "Personality", "arm"}, {"Exec", "MachineID", "xyz"},
		{"Exec", "PrivateUsers", "12:0"}, {"Exec", "OOMScoreAdjust", "2000"}, {"Exec", "CPUAffinity", "3-1"},
		{"Exec", "Hostname", "-bad"}, {"Exec", "ResolvConf", "copy-nothing"}, {"Exec", "Timezone", "utc"},
		{"Exec", "LinkJournal", "sometimes"}, {"Exec", "WorkingDirectory", "rel"}, {"Exec", "PivotRoot", "rel"},
		{"Exec", "Environment", "NOEQUALS"}, {"Exec", "Parameters", `"unterminated`}, {"Exec", "LimitNOFILE", "10:5"},
		{"Exec", "LimitCPU", "5parsecs"}, {"Exec", "SystemCallFilter", "bad/name"}, {"Files", "Volatile", "sometimes"},
		{"Files", "Bind", "rel:/x"}, {"Files", "Bind", "/a:/b:weird"}, {"Files", "Bind", "/a:/b:rbind:x"},
		{"Files", "TemporaryFileSystem", "/"}, {"Files", "Overlay", "/only"}, {"Files", "Overlay", "/a:/"},
		{"Files", "Inaccessible", "relative"}, {"Files", "PrivateUsersOwnership", "steal"},
		{"Network", "Port", "tcp:0"}, {"Network", "Port", "70000"}, {"Network", "Interface", "waytoolonginterfacename"},
		{"Network", "Port", "sctp:80"}, {"Network", "Port", "tcp:80:90:100"}, {"Network", "Port", "tcp:80:0"},
		{"Network", "Port", "10.0.0.1:80:80"}, {"Network", "Port", "tcp:"}, {"Network", "Port", ":80"},
	}
	for _, b := range bad {
		_, _, err := parseOne(t, b.section, b.key, b.value)
		if err == nil {
			t.Errorf("%s=%s accepted", b.key, b.value)
			continue
		}
		want := fmt.Sprintf("k.nspawn:2: [%s] %s=%s: ", b.section, b.key, b.value)
		if !strings.HasPrefix(err.Error(), want) {
			t.Errorf("error %q does not start with %q", err, want)
		}
	}
}

func TestEmptyAssignmentResetsAndListsAccumulate(t *testing.T) {
	in := "[Exec]\nEnvironment=A=1\nEnvironment=B=2\nCapability=CAP_SYS_TIME\nCapability=\nCapability=CAP_IPC_LOCK\n" +
		"[Files]\nBind=/a\nBind=\nBind=/b\nInaccessible=/x\nInaccessible=/y\n[Network]\nPort=80\nPort=tcp:443:8443\n"
	s, _, err := ParseSettings(strings.NewReader(in), "r.nspawn")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		got, want any
	}{
		{s.Environment, []string{"A=1", "B=2"}},
		{s.Capability, []string{"CAP_IPC_LOCK"}},
		{len(s.Binds), 1},
		{s.Binds[0].Source, "/b"},
		{s.Inaccessible, []string{"/x", "/y"}},
		{s.Ports, []PortForward{{"tcp", 80, 80}, {"tcp", 443, 8443}}},
	}
	for i, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("check %d: got %#v, want %#v", i, c.got, c.want)
		}
	}
}

func TestUnknownSectionsAndKeysWarn(t *testing.T) {
	in := "[Exec]\nBoot=yes\nFrobnicate=1\nX-Vendor=ok\n[Mystery]\nA=1\nB=2\n[X-Ours]\nC=3\n"
	s, warns, err := ParseSettings(strings.NewReader(in), "u.nspawn")
	if err != nil || !s.Boot {
		t.Fatalf("err %v boot %v", err, s.Boot)
	}
	want := []string{"u.nspawn:3: unknown key Frobnicate= in section [Exec], ignoring", "u.nspawn:6: unknown section [Mystery], ignoring"}
	if !reflect.DeepEqual(warns, want) {
		t.Errorf("warnings %q, want %q", warns, want)
	}
}

func TestParseCommandLine(t *testing.T) {
	env := map[string]string{"FROMENV": "v"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		args  []string
		check func(*Settings) any
		want  any
	}{
		{[]string{"-bD", "/m/foo"}, func(s *Settings) any { return sp(s.Boot, s.Directory) }, "true /m/foo"},
		{[]string{"-D/m/foo", "-M", "bar"}, func(s *Settings) any { return s.Directory + " " + s.Machine }, "/m/foo bar"},
		{[]string{"--directory=/r", "--machine", "m1", "-u", "nobody"}, func(s *Settings) any { return s.Directory + s.Machine + s.User }, "/rm1nobody"},
		{[]string{"-D", "/r", "/bin/echo", "-b", "x"}, func(s *Settings) any { return s.Parameters }, []string{"/bin/echo", "-b", "x"}},
		{[]string{"-D", "/r", "--", "-b"}, func(s *Settings) any { return sp(s.Boot, s.Parameters) }, "false [-b]"},
		{[]string{"-E", "A=1", "--setenv=FROMENV", "--setenv", "UNSET"}, func(s *Settings) any { return s.Environment }, []string{"A=1", "FROMENV=v"}},
		{[]string{"--capability=sys_time,CAP_IPC_LOCK", "--drop-capability", "all"}, func(s *Settings) any { return sp(s.Capability, s.DropCapability) }, "[CAP_SYS_TIME CAP_IPC_LOCK] [all]"},
		{[]string{"--volatile"}, func(s *Settings) any { return s.Volatile }, "yes"},
		{[]string{"--volatile=overlay"}, func(s *Settings) any { return s.Volatile }, "overlay"},
		{[]string{"--private-users"}, func(s *Settings) any { return s.PrivateUsers.Mode }, UserNSOwner},
		{[]string{"-U"}, func(s *Settings) any { return sp(s.PrivateUsers.Mode, s.PrivateUsersOwnership) }, "pick auto"},
		{[]string{"--private-users=identity"}, func(s *Settings) any { return s.PrivateUsers }, PrivateUsers{Mode: UserNSIdentity, Range: 65536}},
		// digits are a UID base on the command line, never a boolean (nspawn.c)
		{[]string{"--private-users=0"}, func(s *Settings) any { return s.PrivateUsers }, PrivateUsers{Mode: UserNSFixed, Base: 0, Range: 65536}},
		{[]string{"--private-users=1"}, func(s *Settings) any { return s.PrivateUsers }, PrivateUsers{Mode: UserNSFixed, Base: 1, Range: 65536}},
		{[]string{"--private-users=no"}, func(s *Settings) any { return s.PrivateUsers.Mode }, UserNSOff},
		{[]string{"-n", "--private-network", "--network-interface=eth1", "--network-interface", "eth2"}, func(s *Settings) any { return sp(s.VirtualEthernet, s.PrivateNetwork, s.Interfaces) }, "true true [eth1 eth2]"},
		{[]string{"-x", "-a", "--read-only"}, func(s *Settings) any { return sp(s.Ephemeral, s.ProcessTwo, s.ReadOnly) }, "true true true"},
		{[]string{"--bind=/a:/b", "--bind-ro", "/c", "--tmpfs=/t", "--overlay=/l:/u:/o", "--overlay-ro=/x:/y", "--inaccessible=/z"}, func(s *Settings) any {
			return sp(len(s.Binds), s.Binds[1].ReadOnly, s.TmpFS[0].Path, len(s.Overlays), s.Inaccessible)
		}, "2 true /t 2 [/z]"},
		{[]string{"--resolv-conf=copy-host", "--timezone=bind", "--link-journal=host", "-j"}, func(s *Settings) any { return s.ResolvConf + s.Timezone + s.LinkJournal }, "copy-hostbindtry-guest"},
		{[]string{"--console=pipe", "--kill-signal=SIGINT", "--notify-ready=yes"}, func(s *Settings) any { return sp(s.Console, s.KillSignal, s.NotifyReady) }, "pipe SIGINT true"},
		{[]string{"-P"}, func(s *Settings) any { return s.Console }, "pipe"},
		{[]string{"--chdir=/srv", "--user=web", "--pivot-root=/a:/b"}, func(s *Settings) any { return s.WorkingDirectory + s.User + s.PivotRoot + s.PivotRootOld }, "/srvweb/a/b"},
		{[]string{"--rlimit=RLIMIT_NOFILE=10:20", "--rlimit=nproc=5"}, func(s *Settings) any { return sp(s.Rlimits["RLIMIT_NOFILE"], s.Rlimits["RLIMIT_NPROC"]) }, "{10 20} {5 5}"},
		{[]string{"--oom-score-adjust=100", "--cpu-affinity=0,1", "--personality=x86-64", "--hostname=h", "--uuid=0123456789abcdef0123456789abcdef"}, func(s *Settings) any {
			return sp(*s.OOMScoreAdjust, s.CPUAffinity, s.Personality, s.Hostname, s.MachineID)
		}, "100 0,1 x86-64 h 01234567-89ab-cdef-0123-456789abcdef"},
		{[]string{"--property=MemoryMax=1G", "--register=no", "--keep-unit", "-S", "foo"}, func(s *Settings) any { return sp(s.Properties, *s.Register, s.KeepUnit, s.Slice) }, "[MemoryMax=1G] false true foo.slice"},
		{[]string{"--settings=override"}, func(s *Settings) any { return s.SettingsMode }, SettingsOverride},
		{[]string{"--settings=0"}, func(s *Settings) any { return s.SettingsMode }, SettingsNo},
		{[]string{"--set-credential=a:b c", "--load-credential=k:/etc/k"}, func(s *Settings) any { return s.Credentials }, []Credential{{ID: "a", Value: "b c"}, {ID: "k", Path: "/etc/k", Load: true}}},
		{[]string{"-p", "8080:80", "--network-veth-extra=a:b", "--network-bridge=br0", "--network-zone=z", "--network-macvlan=e", "--network-ipvlan=e"}, func(s *Settings) any {
			return sp(s.Ports, s.VirtualEthernetExtra, s.Bridge, s.Zone, s.MACVLAN, s.IPVLAN)
		}, "[{tcp 8080 80}] [{a b}] br0 z [e] [e]"},
		{[]string{"-Z", "ctx", "-L", "fsctx", "-q", "--no-pager", "--network-namespace-path=/run/netns/x"}, func(s *Settings) any {
			return sp(s.SELinuxContext, s.SELinuxAPIFSContext, s.Quiet, s.NoPager, s.NetworkNamespacePath)
		}, "ctx fsctx true true /run/netns/x"},
		{[]string{"--system-call-filter=~ptrace", "--suppress-sync=yes", "--no-new-privileges=yes", "--ambient-capability=CAP_NET_RAW"}, func(s *Settings) any {
			return sp(s.SyscallDeny, s.SuppressSync, s.NoNewPrivileges, s.AmbientCapability)
		}, "[ptrace] true true [CAP_NET_RAW]"},
		{[]string{"-i", "img.raw", "--oci-bundle=/b", "--root-hash=ab", "--root-hash-sig=x", "--verity-data=/v", "--template=/t", "--bind-user=al", "--private-users-ownership=map"}, func(s *Settings) any {
			return sp(s.Image, s.OCIBundle, s.RootHash, s.RootHashSig, s.VerityData, s.Template, s.BindUsers, s.PrivateUsersOwnership)
		}, "img.raw /b ab x /v /t [al] map"},
		{[]string{"--boot", "--ephemeral", "--as-pid2", "--network-veth", "--port=80", "--image=/i", "--slice=a-b", "--selinux-context=c", "--selinux-apifs-context=d", "--pipe", "--quiet"}, func(s *Settings) any {
			return sp(s.Boot, s.Ephemeral, s.ProcessTwo, s.VirtualEthernet, len(s.Ports), s.Image, s.Slice, s.SELinuxContext, s.SELinuxAPIFSContext, s.Console, s.Quiet)
		}, "true true true true 1 /i a-b.slice c d pipe true"},
		{[]string{"--help"}, func(s *Settings) any { return s.Help }, true},
		{[]string{"-h", "--version"}, func(s *Settings) any { return sp(s.Help, s.Version) }, "true true"},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		s, err := ParseCommandLine(tc.args, lookup)
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		for _, a := range tc.args {
			if name, _, _ := strings.Cut(a, "="); strings.HasPrefix(name, "-") {
				seen[name] = true
				if len(name) > 2 && name[1] != '-' {
					for _, c := range name[1:] {
						seen["-"+string(c)] = true
					}
				}
			}
		}
		if got := tc.check(s); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %#v, want %#v", tc.args, got, tc.want)
		}
	}
	for _, k := range Keys() {
		for _, f := range k.Flags {
			if !seen[f] {
				t.Errorf("flag %s has no command-line test", f)
			}
		}
	}
}

func TestCommandLineErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--nope"}, {"-y"}, {"--boot=yes"}, {"-D"}, {"--machine"}, {"--capability=CAP_FLY"},
		{"--private-users=abc"}, {"--machine=bad name"}, {"-E", "=x"}, {"--rlimit=NOFILE"}, {"--rlimit=FOO=1"},
		{"--set-credential=novalue"}, {"--load-credential=id:relative"}, {"--settings=maybe"}, {"--console=tty"},
	} {
		if _, err := ParseCommandLine(args, nil); err == nil {
			t.Errorf("%q accepted", args)
		} else if !strings.Contains(err.Error(), strings.SplitN(args[0], "=", 2)[0]) {
			t.Errorf("%q: error %q does not name the option", args, err)
		}
	}
}

// TestPortDuplicate: the same protocol and host port twice is refused, as
// nspawn's expose_port_parse does; another protocol on that port is not.
func TestPortDuplicate(t *testing.T) {
	if _, _, err := ParseSettings(strings.NewReader("[Network]\nPort=80\nPort=tcp:80:8080\n"), "m.nspawn"); err == nil {
		t.Error("duplicate tcp:80 accepted")
	}
	s, _, err := ParseSettings(strings.NewReader("[Network]\nPort=80\nPort=udp:80\nPort=8000:80\n"), "m.nspawn")
	if err != nil || len(s.Ports) != 3 || s.Ports[2] != (PortForward{"tcp", 8000, 80}) {
		t.Errorf("ports %+v, err %v", s.Ports, err)
	}
}

// In a file nspawn keeps the first start mode it reads and warns about a
// conflicting Boot=/ProcessTwo= (systemd 252 config_parse_boot/pid2).
func TestStartModeConflictInFile(t *testing.T) {
	tests := []struct {
		in         string
		boot, pid2 bool
		warnLine   string // "" = no warning
	}{
		{"Boot=yes\nProcessTwo=yes\n", true, false, "s.nspawn:3: ProcessTwo=yes"},
		{"ProcessTwo=yes\nBoot=yes\n", false, true, "s.nspawn:3: Boot=yes"},
		{"Boot=yes\nBoot=no\n", true, false, "s.nspawn:3: Boot=no"},
		{"ProcessTwo=yes\nProcessTwo=no\n", false, true, "s.nspawn:3: ProcessTwo=no"},
		{"Boot=no\nProcessTwo=yes\n", false, true, ""},
		{"ProcessTwo=no\nBoot=yes\n", true, false, ""},
		{"Boot=yes\nProcessTwo=no\n", true, false, ""},
	}
	for _, tc := range tests {
		s, warns, err := ParseSettings(strings.NewReader("[Exec]\n"+tc.in), "s.nspawn")
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if s.Boot != tc.boot || s.ProcessTwo != tc.pid2 {
			t.Errorf("%q: boot %v pid2 %v, want %v %v", tc.in, s.Boot, s.ProcessTwo, tc.boot, tc.pid2)
		}
		switch {
		case tc.warnLine == "" && len(warns) != 0:
			t.Errorf("%q: unexpected warnings %q", tc.in, warns)
		case tc.warnLine != "" && (len(warns) != 1 || !strings.HasPrefix(warns[0], tc.warnLine) || !strings.Contains(warns[0], "conflicting Boot= or ProcessTwo=")):
			t.Errorf("%q: warnings %q, want one starting %q", tc.in, warns, tc.warnLine)
		}
	}
	// The command line refuses the combination instead (checkRefused).
	if s := mustCLI(t, "-b", "-a"); !s.Boot || !s.ProcessTwo {
		t.Errorf("-b -a parsed as boot %v pid2 %v", s.Boot, s.ProcessTwo)
	}
}
