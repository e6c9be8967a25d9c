package nspawnconv

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/nspawnconv/syscontainer"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

const testUUID = "6c2f0d4e-8a53-4f1b-9b7e-3f6a2d9c1e57"

// makeRootfs builds a tiny Debian-like tree: systemd behind a /lib symlink,
// a shell, users and a zoneinfo file.
func makeRootfs(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{
		"usr/lib/systemd/systemd":          "#!/bin/sh\n",
		"usr/bin/sh":                       "#!/bin/sh\n",
		"etc/passwd":                       "root:x:0:0:root:/root:/bin/sh\nweb:x:1000:1000:Web:/home/web:/bin/sh\n",
		"etc/group":                        "root:x:0:\nweb:x:1000:\nadm:x:4:web\nwww:x:33:other,web\n",
		"usr/share/zoneinfo/Europe/Berlin": "TZif",
	}
	for p, data := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"lib": "usr/lib", "bin": "usr/bin", "sbin": "/usr/bin"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
}

type fixture struct {
	base, root, bundle, hostEtc string
}

func newFixture(t *testing.T, name string) fixture {
	t.Helper()
	base := t.TempDir()
	f := fixture{base: base, root: filepath.Join(base, "machines", name), bundle: filepath.Join(base, "bundle"), hostEtc: filepath.Join(base, "hostetc")}
	makeRootfs(t, f.root)
	if err := os.MkdirAll(f.hostEtc, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.hostEtc, "resolv.conf"), []byte("nameserver 10.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/share/zoneinfo/Europe/Berlin", filepath.Join(f.hostEtc, "localtime")); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f fixture) options() Options {
	bounding := slices.DeleteFunc(slices.Clone(AllCapabilities), func(c string) bool { return c == "CAP_SYS_RESOURCE" })
	return Options{
		BundleDir: f.bundle, BoundingSet: bounding, HostOSRelease: "testdata/os-release", HostEtc: f.hostEtc,
		HostJournalDir: filepath.Join(f.base, "no-journal"), NewUUID: func() string { return testUUID },
		LookupEnv: func(k string) (string, bool) { return map[string]string{"TERM": "xterm"}[k], k == "TERM" },
		InitPath:  "/usr/libexec/hull/init", HookPath: "/usr/bin/hull",
		StaticResolvConf: filepath.Join(f.base, "static-resolv.conf"), ResolvedListening: func() bool { return false },
		HostHardLimit: func(int) uint64 { return 1 << 20 }, UIDRangeInUse: func(uint32) bool { return false },
	}
}

func convertFixture(t *testing.T, name string) (*Conversion, fixture) {
	t.Helper()
	f := newFixture(t, name)
	file, warns, err := ParseFile(filepath.Join("testdata/convert", name+".nspawn"))
	if err != nil || len(warns) > 0 {
		t.Fatalf("parse %s: %v %q", name, err, warns)
	}
	args := []string{"-D", f.root}
	if b, err := os.ReadFile(filepath.Join("testdata/convert", name+".args")); err == nil {
		args = append(args, strings.Fields(string(b))...)
	}
	cli, err := ParseCommandLine(args, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := Merge(cli, file, true)
	c, err := s.ToSpec(f.options())
	if err != nil {
		t.Fatalf("ToSpec %s: %v", name, err)
	}
	return c, f
}

func TestConvertGolden(t *testing.T) {
	names, err := filepath.Glob("testdata/convert/*.nspawn")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range names {
		name := strings.TrimSuffix(filepath.Base(p), ".nspawn")
		t.Run(name, func(t *testing.T) {
			c, f := convertFixture(t, name)
			got, err := json.MarshalIndent(map[string]any{"spec": c.Spec, "preSteps": c.PreSteps, "hooks": c.Hooks, "warnings": c.Warnings}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = bytes.ReplaceAll(got, []byte(f.base), []byte("@BASE@"))
			golden := filepath.Join("testdata/convert", name+".json")
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if string(want) != string(got)+"\n" {
				t.Errorf("%s differs from the golden file; diff with -update and git diff:\n%s", name, got)
			}
		})
	}
}

func mountByDest(s *specs.Spec, dst string) *specs.Mount {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == dst {
			return &s.Mounts[i]
		}
	}
	return nil
}

func envValue(env []string, name string) (string, bool) {
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// TestBootProfileFields checks the boot profile against the config that
// booted Debian 12 under runc (reference-systemd-config.json).
func TestBootProfileFields(t *testing.T) {
	c, f := convertFixture(t, "boot")
	s := c.Spec
	if s.Version != "1.3.0" || s.Root.Path != f.root || s.Root.Readonly || s.Hostname != "boot" {
		t.Errorf("root/hostname: %+v %q", s.Root, s.Hostname)
	}
	if !slices.Equal(s.Process.Args, []string{"/usr/lib/systemd/systemd"}) || s.Process.Cwd != "/" || !s.Process.Terminal || s.Process.NoNewPrivileges {
		t.Errorf("process: %+v", s.Process)
	}
	for k, want := range map[string]string{"container": "hull", "container_uuid": testUUID, "TERM": "xterm", "HOME": "/root", "container_host_id": "debian", "container_host_version_id": "12"} {
		if v, ok := envValue(s.Process.Env, k); !ok || v != want {
			t.Errorf("env %s = %q, want %q", k, v, want)
		}
	}
	if _, ok := envValue(s.Process.Env, "LANG"); ok {
		t.Error("LANG set in boot mode")
	}
	var ns []string
	for _, n := range s.Linux.Namespaces {
		ns = append(ns, string(n.Type))
	}
	if !slices.Equal(ns, []string{"pid", "ipc", "uts", "mount", "cgroup"}) {
		t.Errorf("namespaces %v", ns)
	}
	caps := s.Process.Capabilities
	if len(caps.Bounding) != 25 || slices.Contains(caps.Bounding, "CAP_SYS_RESOURCE") || slices.Contains(caps.Bounding, "CAP_NET_ADMIN") ||
		!slices.Equal(caps.Bounding, caps.Effective) || !slices.Equal(caps.Bounding, caps.Permitted) || len(caps.Inheritable) != 0 {
		t.Errorf("capabilities %+v", caps)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "CAP_SYS_RESOURCE") {
		t.Errorf("warnings %q, want the dropped CAP_SYS_RESOURCE", c.Warnings)
	}
	for _, dst := range []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/sys/fs/cgroup/systemd", "/run", "/tmp", "/run/host"} {
		if mountByDest(s, dst) == nil {
			t.Errorf("mount %s missing", dst)
		}
	}
	if m := mountByDest(s, "/sys/fs/cgroup/systemd"); m.Source != "/sys/fs/cgroup/systemd/machine.slice/machine-boot.scope" || s.Linux.CgroupsPath != "/machine.slice/machine-boot.scope" {
		t.Errorf("cgroup bind %+v path %q", m, s.Linux.CgroupsPath)
	}
	if m := mountByDest(s, "/sys"); !slices.Contains(m.Options, "ro") {
		t.Errorf("/sys not read-only: %v", m.Options)
	}
	if m := mountByDest(s, "/run/host"); m.Source != filepath.Join(f.bundle, "run-host") || !slices.Contains(m.Options, "ro") {
		t.Errorf("/run/host %+v", m)
	}
	if !slices.Equal(s.Linux.ReadonlyPaths[:1], []string{"/proc/sys"}) || !slices.Contains(s.Linux.MaskedPaths, "/proc/kcore") {
		t.Errorf("ro %v masked %v", s.Linux.ReadonlyPaths, s.Linux.MaskedPaths)
	}
	if len(s.Linux.Devices) != 1 || s.Linux.Devices[0].Path != "/dev/net/tun" || len(s.Linux.Resources.Devices) != 10 || s.Linux.Resources.Devices[0].Allow {
		t.Errorf("devices %+v %+v", s.Linux.Devices, s.Linux.Resources.Devices)
	}
	if s.Annotations[syscontainer.AnnotationKillSignal] != "SIGRTMIN+3" || s.Annotations[syscontainer.AnnotationBoot] != "yes" || s.Annotations[syscontainer.AnnotationMachine] != "boot" {
		t.Errorf("annotations %v", s.Annotations)
	}
	// resolv.conf: copied (root writable, host network); timezone: symlink into the image's zoneinfo.
	wantSteps := map[string]PreStep{
		"ResolvConf=copy-host": {Action: ActionCopyFile, Path: filepath.Join(f.root, "etc/resolv.conf"), Source: filepath.Join(f.hostEtc, "resolv.conf"), Mode: 0o644, Key: "ResolvConf=copy-host"},
		"Timezone=symlink":     {Action: ActionSymlink, Path: filepath.Join(f.root, "etc/localtime"), Source: "../usr/share/zoneinfo/Europe/Berlin", Key: "Timezone=symlink"},
	}
	for _, p := range c.PreSteps {
		if w, ok := wantSteps[p.Key]; ok {
			if !reflectEqual(p, w) {
				t.Errorf("pre-step %+v, want %+v", p, w)
			}
			delete(wantSteps, p.Key)
		}
	}
	if len(wantSteps) > 0 {
		t.Errorf("missing pre-steps %v", wantSteps)
	}
}

func reflectEqual(a, b PreStep) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestPrivateNetworkFields(t *testing.T) {
	c, _ := convertFixture(t, "boot-private-net")
	s := c.Spec
	if !slices.Contains(s.Process.Capabilities.Bounding, "CAP_NET_ADMIN") || s.Hostname != "web" {
		t.Errorf("caps %v hostname %q", s.Process.Capabilities.Bounding, s.Hostname)
	}
	if slices.Contains(s.Linux.ReadonlyPaths, "/proc/sys") || !slices.Contains(s.Linux.ReadonlyPaths, "/proc/sys/kernel") || slices.Contains(s.Linux.ReadonlyPaths, "/proc/sys/net") {
		t.Errorf("readonly paths %v", s.Linux.ReadonlyPaths)
	}
	if _, ok := s.Linux.NetDevices["dummy0"]; !ok {
		t.Errorf("netDevices %v", s.Linux.NetDevices)
	}
	if want := []string{"/usr/lib/systemd/systemd", "systemd.unit=multi-user.target", "systemd.firstboot=off"}; !slices.Equal(s.Process.Args, want) {
		t.Errorf("args %q", s.Process.Args)
	}
	if v, _ := envValue(s.Process.Env, "GREETING"); v != "hello world" {
		t.Errorf("GREETING=%q", v)
	}
	if s.Annotations[syscontainer.AnnotationKillSignal] != "SIGTERM" {
		t.Errorf("kill signal %v", s.Annotations)
	}
	for _, p := range c.PreSteps {
		if strings.HasPrefix(p.Key, "ResolvConf") {
			t.Errorf("resolv.conf touched with a private network: %+v", p)
		}
	}
}

func TestAppProfileFields(t *testing.T) {
	c, _ := convertFixture(t, "app")
	s := c.Spec
	p := s.Process
	if p.User.UID != 1000 || p.User.GID != 1000 || !slices.Equal(p.User.AdditionalGids, []uint32{4, 33}) || p.Cwd != "/srv" {
		t.Errorf("user %+v cwd %q", p.User, p.Cwd)
	}
	if !slices.Equal(p.Args, []string{"/bin/sh", "-c", "echo hi"}) || !p.NoNewPrivileges || *p.OOMScoreAdj != 200 {
		t.Errorf("process %+v", p)
	}
	if v, _ := envValue(p.Env, "LANG"); v != "C.UTF-8" {
		t.Error("LANG missing in app mode")
	}
	if v, _ := envValue(p.Env, "USER"); v != "web" {
		t.Errorf("USER=%q", v)
	}
	if len(p.Capabilities.Effective) != 0 || slices.Contains(p.Capabilities.Bounding, "CAP_SYS_ADMIN") || !slices.Contains(p.Capabilities.Bounding, "CAP_SYS_TIME") {
		t.Errorf("caps %+v", p.Capabilities)
	}
	if len(p.Rlimits) != 2 || p.Rlimits[0].Type != "RLIMIT_CORE" || p.Rlimits[0].Hard != infinity || p.Rlimits[1].Soft != 1024 {
		t.Errorf("rlimits %+v", p.Rlimits)
	}
	if !s.Root.Readonly || s.Linux.Personality.Domain != specs.PerLinux32 || s.Linux.Resources.CPU.Cpus != "0-1" {
		t.Errorf("linux %+v", s.Linux)
	}
	if mountByDest(s, "/srv").Options[0] != "bind" || !slices.Contains(mountByDest(s, "/mnt/share").Options, "ro") {
		t.Errorf("binds wrong")
	}
	if m := mountByDest(s, "/opt"); m.Options[0] != "lowerdir=/lower2:/lower1" || m.Options[1] != "upperdir=/upper" || m.Options[2] != "workdir=/.#upper.hull-work" {
		t.Errorf("overlay %+v", m)
	}
	if m := mountByDest(s, "/usr/local"); !slices.Equal(m.Options, []string{"lowerdir=/ro2:/ro1", "ro"}) {
		t.Errorf("ro overlay %+v", m)
	}
	if m := mountByDest(s, "/tmp"); m.Type != "tmpfs" || !slices.Equal(m.Options, []string{"mode=0755", "nodev", "strictatime"}) {
		t.Errorf("user /tmp must replace nspawn's: %+v", m)
	}
	if !slices.Contains(s.Linux.MaskedPaths, "/etc/shadow") {
		t.Errorf("masked %v", s.Linux.MaskedPaths)
	}
	// ~kexec_load ptrace: EPERM; Capability=CAP_SYS_TIME: @clock allowed.
	for name, want := range map[string]string{"ptrace": "errno 1", "kexec_load": "errno 1", "clock_settime": "allow", "no_such_call": "errno 38"} {
		if got := ruleFor(s.Linux.Seccomp, name); got != want {
			t.Errorf("seccomp %s: %s, want %s", name, got, want)
		}
	}
	if v, _ := envValue(p.Env, "container_uuid"); v != "01234567-89ab-cdef-0123-456789abcdef" {
		t.Errorf("MachineID not used: %q", v)
	}
	if m := mountByDest(s, "/etc/resolv.conf"); m == nil || m.Source != filepath.Join(filepath.Dir(filepath.Dir(s.Root.Path)), "hostetc/resolv.conf") {
		t.Errorf("resolv bind %+v", m)
	}
	if _, ok := s.Annotations[syscontainer.AnnotationKillSignal]; ok {
		t.Error("kill signal annotation without Boot=")
	}
}

func TestUserNSFields(t *testing.T) {
	c, f := convertFixture(t, "userns")
	s := c.Spec
	want := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1048576, Size: 65536}}
	if !slices.Equal(s.Linux.UIDMappings, want) || !slices.Equal(s.Linux.GIDMappings, want) || s.Linux.Namespaces[len(s.Linux.Namespaces)-1].Type != specs.UserNamespace {
		t.Errorf("userns %+v", s.Linux)
	}
	if slices.Contains(s.Process.Capabilities.Bounding, "CAP_NET_BIND_SERVICE") {
		t.Error("CAP_NET_BIND_SERVICE kept with a shifted userns and host network")
	}
	if m := mountByDest(s, "/sys"); m.Type != "bind" {
		t.Errorf("/sys must be bound without a netns: %+v", m)
	}
	if m := mountByDest(s, "/data"); !slices.Contains(m.Options, "ridmap") || !slices.Equal(m.UIDMappings, want) {
		t.Errorf("idmap bind %+v", m)
	}
	if c.PreSteps[0].Action != ActionChownTree || c.PreSteps[0].Path != f.root || c.PreSteps[0].UIDShift != 1048576 {
		t.Errorf("chown pre-step %+v", c.PreSteps[0])
	}
	// chown-cgroup, then register (TestRegistrationHooks)
	if len(s.Hooks.CreateRuntime) != 2 || !slices.Equal(s.Hooks.CreateRuntime[0].Args, []string{"/usr/bin/hull", "nspawn-hook", "chown-cgroup", "1048576"}) {
		t.Errorf("hooks %+v", s.Hooks)
	}
}

func TestVolatileAndEphemeral(t *testing.T) {
	c, f := convertFixture(t, "volatile-overlay")
	merged := filepath.Join(f.bundle, "volatile/merged")
	if c.Spec.Root.Path != merged || c.PreSteps[0].Action != ActionMountTmpfs || c.PreSteps[4].Action != ActionMountOverlay ||
		c.PreSteps[4].Options[0] != "lowerdir="+f.root {
		t.Errorf("overlay root %q pre-steps %+v", c.Spec.Root.Path, c.PreSteps)
	}
	if len(c.Spec.Hooks.Poststop) != 3 { // umount ×2, unregister
		t.Errorf("poststop hooks %+v", c.Spec.Hooks)
	}
	c, _ = convertFixture(t, "volatile-state")
	if !c.Spec.Root.Readonly || mountByDest(c.Spec, "/var").Type != "tmpfs" || mountByDest(c.Spec, "/etc/localtime") == nil {
		t.Errorf("state: %+v", c.Spec.Root)
	}
	c, f = convertFixture(t, "volatile-yes")
	if c.Spec.Root.Path != filepath.Join(f.bundle, "volatile-root") || mountByDest(c.Spec, "/usr").Source != filepath.Join(f.root, "usr") {
		t.Errorf("volatile=yes root %q", c.Spec.Root.Path)
	}
	c, f = convertFixture(t, "cli-credentials")
	if c.MachineName != "cli-credentials-6c2f0d4e8a534f1b" || c.Spec.Process.Terminal || c.Spec.Linux.CgroupsPath != `/machine.slice/machine-test.slice/machine-cli\x2dcredentials\x2d6c2f0d4e8a534f1b.scope` {
		t.Errorf("ephemeral name %q terminal %v cgroup %q", c.MachineName, c.Spec.Process.Terminal, c.Spec.Linux.CgroupsPath)
	}
	if v, _ := envValue(c.Spec.Process.Env, "CREDENTIALS_DIRECTORY"); v != "/run/host/credentials" || mountByDest(c.Spec, "/run/host/credentials") == nil {
		t.Error("credentials not mounted")
	}
}

func TestRefusals(t *testing.T) {
	cases := map[string]string{
		"[Network]\nPort=80\n":                              "Port=",
		"[Network]\nBridge=br0\nZone=lab\n":                 "Zone=",
		"[Files]\nBindUser=alice\n":                         "BindUser=",
		"[Exec]\nBoot=yes\nAmbientCapability=CAP_NET_RAW\n": "AmbientCapability=",
		"[Files]\nPrivateUsersOwnership=map\n":              "PrivateUsersOwnership=map",
		"[Files]\nBind=/a:/b:idmap\n":                       "Bind=/a:/b:idmap",
	}
	for in, key := range cases {
		f := newFixture(t, "r")
		s := mustParse(t, in)
		s.Directory = f.root
		_, err := s.ToSpec(f.options())
		var re *RefusedError
		if !errors.As(err, &re) || !strings.HasPrefix(re.Key, key) || re.Reason == "" {
			t.Errorf("%q: err %v, want refusal of %s", in, err, key)
		}
	}
	for _, args := range [][]string{{"-b", "-a"}, {"-x", "--link-journal=host"}, {"--ambient-capability=all"}, {"--read-only", "--private-users=pick", "--private-users-ownership=chown"},
		{"--volatile=state", "--private-users=pick", "--private-users-ownership=chown"}, {"-i", "/x.raw"}, {"--oci-bundle=/b"}, {"--property=CPUAccounting=yes"}, {"--property=MemoryMax=10%"}, {"--root-hash=ab"}} {
		f := newFixture(t, "r")
		s := mustCLI(t, append([]string{"-D", f.root}, args...)...)
		if _, err := s.ToSpec(f.options()); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	f := newFixture(t, "r")
	s := mustCLI(t, "-D", f.root, "-a", "/bin/sh")
	o := f.options()
	o.InitPath = ""
	if _, err := s.ToSpec(o); err == nil || !strings.Contains(err.Error(), "ProcessTwo=") {
		t.Errorf("ProcessTwo without init: %v", err)
	}
	o.InitPath = "hull-stubinit"
	if _, err := s.ToSpec(o); err == nil || !strings.Contains(err.Error(), "not absolute") {
		t.Errorf("ProcessTwo with a relative init path: %v", err)
	}
	if err := os.Remove(filepath.Join(f.root, "usr/lib/systemd/systemd")); err != nil {
		t.Fatal(err)
	}
	if _, err := mustCLI(t, "-D", f.root, "-b").ToSpec(f.options()); err == nil || !strings.Contains(err.Error(), "Boot=") {
		t.Errorf("boot without init: %v", err)
	}
}

func TestKeyTableGolden(t *testing.T) {
	got := KeyTableMarkdown()
	// The published table: docs/ is generated from the code, never edited.
	golden := "../docs/nspawn-keys.md"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil || string(want) != got {
		t.Errorf("key table differs from %s (run go test -update): %v", golden, err)
	}
	counts := KindCounts()
	t.Logf("key table: %d mapped, %d hooked, %d refused", counts[KindMapped], counts[KindHooked], counts[KindRefused])
	for _, k := range Keys() {
		if k.What == "" || k.parse == nil || (k.Key == "" && len(k.Flags) == 0) {
			t.Errorf("incomplete key row %+v", k)
		}
	}
}

// ruleFor is the unconditional decision of a seccomp section for a call.
func ruleFor(sc *specs.LinuxSeccomp, name string) string {
	if sc == nil {
		return "no filter"
	}
	for _, r := range sc.Syscalls {
		if len(r.Args) == 0 && slices.Contains(r.Names, name) {
			if r.Action == specs.ActAllow {
				return "allow"
			}
			return fmt.Sprintf("errno %d", *r.ErrnoRet)
		}
	}
	return fmt.Sprintf("errno %d", *sc.DefaultErrnoRet)
}

// An unprivileged caller's machine: -U maps root to the caller and 1…65535
// to its subordinate range; what needs host root is refused by name.
func TestRootlessConversion(t *testing.T) {
	r := &RootlessIDs{UID: 1000, GID: 1001, SubUID: 100000, SubGID: 200000, SubUIDN: 65536, SubGIDN: 65536}
	dir := t.TempDir()
	conv := func(s *Settings) (*Conversion, error) {
		s.Directory = dir
		s.Parameters = []string{"/bin/true"}
		return s.ToSpec(Options{BundleDir: t.TempDir(), CgroupV2: true, Rootless: r, NewUUID: func() string { return "5cd5a7b7-6e2f-4c3e-9a1d-1d2c3b4a5f60" }})
	}
	cv, err := conv(&Settings{PrivateUsers: PrivateUsers{Mode: UserNSPick, Range: 65536}})
	if err != nil {
		t.Fatal(err)
	}
	l := cv.Spec.Linux
	wantU := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65535}}
	wantG := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1001, Size: 1}, {ContainerID: 1, HostID: 200000, Size: 65535}}
	if !reflect.DeepEqual(l.UIDMappings, wantU) || !reflect.DeepEqual(l.GIDMappings, wantG) {
		t.Errorf("maps %v %v, want %v %v", l.UIDMappings, l.GIDMappings, wantU, wantG)
	}
	for _, p := range cv.PreSteps {
		if p.Action == ActionChownTree {
			t.Errorf("a chown of the tree unprivileged: %+v", p)
		}
	}
	for _, tc := range []struct {
		s   Settings
		key string
	}{
		{Settings{}, "PrivateUsers=no"},
		{Settings{PrivateUsers: PrivateUsers{Mode: UserNSFixed, Base: 65536, Range: 65536}}, "PrivateUsers=fixed"},
		{Settings{PrivateUsers: PrivateUsers{Mode: UserNSPick, Range: 65536}, VirtualEthernet: true}, "--network-veth"},
	} {
		_, err := conv(&tc.s)
		var re *RefusedError
		if !errors.As(err, &re) || !strings.Contains(re.Key, tc.key) {
			t.Errorf("%s: err %v, want refused", tc.key, err)
		}
	}
}
