package nspawnconv

import (
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Options are the host facts and choices ToSpec needs; everything that would
// otherwise be read from the host is injectable so tests are deterministic.
type Options struct {
	Rootfs      string   // host path of the machine's root directory (default Settings.Directory)
	BundleDir   string   // absolute bundle directory: pre-step outputs (run-host, credentials, overlays)
	CgroupsPath string   // default /machine.slice/machine-<name>.scope (or under -S slice)
	CgroupV2    bool     // host has a pure cgroup v2 hierarchy
	BoundingSet []string // capabilities the runtime holds; nil = do not intersect
	LookupEnv   func(string) (string, bool)
	HookPath    string // executable for hooks: HookPath nspawn-hook ACTION ARGS…; "" = Conversion.Hooks only
	InitPath    string // host path of a stub init ("init -- cmd…") for ProcessTwo=
	Interactive bool   // caller is on a terminal (--console=autopipe)

	ContainerName  string // $container and /run/host/container-manager (default "hull")
	HostOSRelease  string // default /etc/os-release
	HostEtc        string // host /etc for resolv.conf and localtime (default /etc)
	HostJournalDir string // default /var/log/journal
	// StaticResolvConf is systemd-resolved's static stub file (default
	// /usr/lib/systemd/resolv.conf); ResolvedListening reports whether
	// resolved's stub listener runs on the host (default: a UDP socket on
	// 127.0.0.53:53; nspawn asks resolved over D-Bus).
	StaticResolvConf  string
	ResolvedListening func() bool
	// HostHardLimit is the hard rlimit the runtime is likely to hold
	// (default: the converting process's own).
	HostHardLimit func(resource int) uint64
	NewUUID       func() string // default: random v4
	// LookupUser resolves a BindUser= name on the host (default LookupHostUser).
	LookupUser func(name string) (HostUser, error)
	// UIDRangeInUse reports whether PrivateUsers=pick may not take the 64K
	// range at base (default: nspawn's checks, hostUIDRangeInUse).
	UIDRangeInUse func(base uint32) bool
	// Rootless is set when an unprivileged user runs the machine: its
	// ids and subordinate ranges replace what PrivateUsers= would pick.
	Rootless *RootlessIDs
}

// RootlessIDs are an unprivileged caller's own uid and gid and the first
// ids of its /etc/subuid and /etc/subgid ranges, with the ranges' sizes.
type RootlessIDs struct {
	UID, GID         uint32
	SubUID, SubGID   uint32
	SubUIDN, SubGIDN uint32
}

// PreStep is host-side work to do, in order, before `create`.
type PreStep struct {
	Action string `json:"action"` // see the Action* constants
	Path   string `json:"path"`   // host path acted on; parents are created
	Source string `json:"source,omitempty"`
	Data   string `json:"data,omitempty"`
	Mode   uint32 `json:"mode,omitempty"`
	// Options: mount options for mount actions.
	Options []string `json:"options,omitempty"`
	// UIDShift: chown-tree adds it to every uid/gid below the range size.
	UIDShift uint32 `json:"uidShift,omitempty"`
	// Replace: copy-file replaces any inode at Path; false = only a regular
	// file or nothing (nspawn's copy-* versus replace-*).
	// mkdir with Replace removes a symlink at Path first (nspawn's
	// LinkJournal=host replaces a link left by LinkJournal=guest).
	Replace bool `json:"replace,omitempty"`
	// Owner: host uid and gid that mkdir, write-file, copy-file and
	// symlink give the inode at Path (the container's root under PrivateUsers=); 0 leaves it root's.
	Owner    uint32 `json:"owner,omitempty"`
	Optional bool   `json:"optional,omitempty"` // failure is not fatal (try-*)
	Key      string `json:"key"`                // the setting this realises
}

// Pre-step actions.
const (
	ActionMkdir        = "mkdir"
	ActionWriteFile    = "write-file"
	ActionCopyFile     = "copy-file"
	ActionSymlink      = "symlink" // Path -> Source (link text)
	ActionRemove       = "remove"
	ActionMountTmpfs   = "mount-tmpfs"
	ActionMountOverlay = "mount-overlay"
	ActionChownTree    = "chown-tree"
	ActionCopyTree     = "copy-tree" // Source tree to Path, only if Path is missing
)

// HookStep is a host action at an OCI hook stage, as data.
type HookStep struct {
	Stage  string   `json:"stage"` // createRuntime or poststop
	Action string   `json:"action"`
	Args   []string `json:"args,omitempty"`
	Key    string   `json:"key"`
}

// Conversion is the result of ToSpec.
type Conversion struct {
	Spec        *specs.Spec
	MachineName string
	UUID        string
	PreSteps    []PreStep
	Hooks       []HookStep
	Annotations map[string]string // also in Spec.Annotations
	Warnings    []string
}

// RefusedError names a setting hull cannot realise and why. Key is the
// setting ("AmbientCapability=") or the setting with its value
// ("PrivateUsersOwnership=map"); Value, when set, is the value of a bare
// Key; Source is the "file:line" the setting came from ("" for the command
// line).
type RefusedError struct {
	Key    string
	Reason string
	Value  string
	Source string
}

func (e *RefusedError) Error() string {
	name := e.Key
	if e.Value != "" && strings.HasSuffix(name, "=") {
		name += e.Value
	}
	if e.Source != "" {
		return fmt.Sprintf("%s: %s: %s", e.Source, name, e.Reason)
	}
	return fmt.Sprintf("%s: %s", name, e.Reason)
}

// locate fills in a refusal's value and source from where its setting was
// given, so an error raised after parsing still names the file and line.
func (s *Settings) locate(err error) error {
	var re *RefusedError
	if !errors.As(err, &re) {
		return err
	}
	key, val, hasVal := strings.Cut(strings.TrimPrefix(re.Key, "--"), "=")
	if re.Value != "" {
		val, hasVal = re.Value, true
	}
	o, ok := s.originOf(key, val, hasVal && val != "")
	if !ok {
		return err
	}
	if re.Source == "" {
		re.Source = o.pos
	}
	if re.Value == "" && strings.HasSuffix(re.Key, "=") {
		re.Value = o.value
	}
	return err
}

// originOf finds where key was given: the assignment whose value starts the
// refused value when there is one (one Bind= of several), else the last.
func (s *Settings) originOf(key, val string, match bool) (origin, bool) {
	all := s.origins[key]
	if len(all) == 0 {
		return origin{}, false
	}
	if match {
		for i := len(all) - 1; i >= 0; i-- {
			if all[i].value == val || strings.HasPrefix(val, all[i].value) {
				return all[i], true
			}
		}
	}
	return all[len(all)-1], true
}

type converter struct {
	s    *Settings
	o    Options
	c    *Conversion
	spec *specs.Spec
	root string // host path of the image root (before overlays)
	// final root path the container sees (overlay merged dir etc.)
	finalRoot string
	userns    bool
	uidBase   uint32
	uidRange  uint32
	privNet   bool
}

// ToSpec converts the settings to an OCI spec plus pre-steps and hooks.
func (s *Settings) ToSpec(o Options) (*Conversion, error) {
	if err := s.checkRefused(o); err != nil {
		return nil, s.locate(err)
	}
	o = o.withDefaults()
	cv := &converter{s: s, o: o, c: &Conversion{Annotations: map[string]string{}},
		spec: &specs.Spec{Version: specs.Version, Process: &specs.Process{}, Root: &specs.Root{}, Linux: &specs.Linux{}}}
	cv.c.Spec = cv.spec
	steps := []func() error{cv.setupRoot, cv.setupIdentity, cv.setupUserNS, cv.setupProcess,
		cv.setupCapabilities, cv.setupLinux, cv.setupResources, cv.setupNetworkLinks, cv.setupMounts, cv.setupRunHost, cv.setupCustomMounts,
		cv.setupBindUsers, cv.setupResolvConf, cv.setupTimezone, cv.setupJournal, cv.setupCredentials, cv.setupSeccomp,
		cv.setupAnnotations, cv.setupRegistration}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, s.locate(err)
		}
	}
	cv.installHooks()
	return cv.c, nil
}

func (o Options) withDefaults() Options {
	if o.ContainerName == "" {
		o.ContainerName = "hull"
	}
	if o.HostOSRelease == "" {
		o.HostOSRelease = "/etc/os-release"
	}
	if o.HostEtc == "" {
		o.HostEtc = "/etc"
	}
	if o.StaticResolvConf == "" {
		o.StaticResolvConf = "/usr/lib/systemd/resolv.conf"
	}
	if o.HostHardLimit == nil {
		o.HostHardLimit = hostHardLimit
	}
	if o.ResolvedListening == nil {
		o.ResolvedListening = resolvedStubListening
	}
	if o.HostJournalDir == "" {
		o.HostJournalDir = "/var/log/journal"
	}
	if o.LookupUser == nil {
		o.LookupUser = LookupHostUser
	}
	if o.UIDRangeInUse == nil {
		o.UIDRangeInUse = hostUIDRangeInUse
	}
	if o.NewUUID == nil {
		o.NewUUID = randomUUID
	}
	return o
}

func randomUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on Linux
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// checkRefused fails on every setting hull cannot realise.
func (s *Settings) checkRefused(o Options) error {
	checks := []struct {
		bad         bool
		key, reason string
	}{
		{s.Image != "", "--image", "disk images are not supported; unpack or mount the image and use --directory"},
		{s.OCIBundle != "", "--oci-bundle", "the input is already an OCI bundle; run it with hull directly"},
		{s.RootHash != "" || s.RootHashSig != "" || s.VerityData != "", "--root-hash/--root-hash-sig/--verity-data", "dm-verity only applies to --image, which is not supported"},
		{s.Boot && s.ProcessTwo, "ProcessTwo=", "cannot be combined with Boot= (as in nspawn)"},
		{s.ProcessTwo && o.InitPath == "", "ProcessTwo=", "needs a stub init (Options.InitPath); none configured"},
		{s.ProcessTwo && o.InitPath != "" && !filepath.IsAbs(o.InitPath), "ProcessTwo=", fmt.Sprintf("stub init path %q is not absolute", o.InitPath)},
		{s.Boot && len(s.AmbientCapability) > 0, "AmbientCapability=", "cannot be combined with Boot= (as in nspawn)"},
		{slices.Contains(s.AmbientCapability, "all"), "AmbientCapability=all", "does not support the value all (as in nspawn)"},
		{s.PrivateUsersOwnership == "map", "PrivateUsersOwnership=map", "an idmapped root directory has no OCI field; use chown"},
		{s.Ephemeral && s.Template != "", "--ephemeral", "cannot be combined with --template (as in nspawn)"},
		{s.Ephemeral && s.LinkJournal != "" && s.LinkJournal != "no" && s.LinkJournal != "auto", "--link-journal=" + s.LinkJournal, "cannot be combined with --ephemeral (as in nspawn)"},
		{s.Template != "" && s.Directory == "" && s.Machine == "", "--template", "needs --directory= or --machine= (as in nspawn)"},
		{s.PrivateUsersOwnership == "chown" && s.ReadOnly, "PrivateUsersOwnership=chown", "cannot be combined with --read-only (as in nspawn)"},
		{s.PrivateUsersOwnership == "chown" && s.Volatile != "" && s.Volatile != "no", "PrivateUsersOwnership=chown", "cannot be combined with Volatile= (as in nspawn)"},
		{s.Ephemeral && s.Volatile != "" && s.Volatile != "no", "--ephemeral", "cannot be combined with Volatile= (as in nspawn)"},
		{s.NetworkNamespacePath != "" && (s.PrivateNetwork || len(s.Interfaces) > 0 || s.VirtualEthernet || s.Bridge != "" || s.Zone != "" ||
			len(s.VirtualEthernetExtra)+len(s.MACVLAN)+len(s.IPVLAN) > 0), "--network-namespace-path", "cannot be combined with other network settings (as in nspawn)"},
		{s.Bridge != "" && s.Zone != "", "Zone=", "cannot be combined with Bridge= (as in nspawn)"},
		{o.Rootless != nil && (s.VirtualEthernet || s.Bridge != "" || s.Zone != "" || len(s.VirtualEthernetExtra)+len(s.MACVLAN)+len(s.IPVLAN)+len(s.Interfaces)+len(s.Ports) > 0),
			"--network-veth/--network-bridge/--network-zone/--network-macvlan/--network-ipvlan/--network-interface/--port", "host-side links and port forwarding need CAP_NET_ADMIN on the host; unprivileged, use --private-network (a network namespace of the user's own) or the host's network"},
		{s.SettingsMode != "" && s.SettingsMode != SettingsNo && s.SettingsMode != SettingsYes &&
			s.SettingsMode != SettingsOverride && s.SettingsMode != SettingsTrusted, "--settings", "invalid mode"},
	}
	for _, c := range checks {
		if c.bad {
			return &RefusedError{Key: c.key, Reason: c.reason}
		}
	}
	return nil
}

func (cv *converter) warn(format string, args ...any) {
	cv.c.Warnings = append(cv.c.Warnings, fmt.Sprintf(format, args...))
}

func (cv *converter) pre(p PreStep) { cv.c.PreSteps = append(cv.c.PreSteps, p) }

func (cv *converter) hook(stage, action, key string, args ...string) {
	cv.c.Hooks = append(cv.c.Hooks, HookStep{Stage: stage, Action: action, Args: args, Key: key})
}

func (cv *converter) annotate(key, v string) { cv.c.Annotations[key] = v }

// bundlePath names a file in the bundle; relative when no BundleDir is given
// (runtimes resolve relative bind sources against the bundle).
func (cv *converter) bundlePath(name string) string {
	if cv.o.BundleDir == "" {
		return name
	}
	return filepath.Join(cv.o.BundleDir, name)
}

// installHooks turns HookSteps into OCI hooks when a hook binary is known.
func (cv *converter) installHooks() {
	if cv.o.HookPath == "" || len(cv.c.Hooks) == 0 {
		return
	}
	h := &specs.Hooks{}
	for _, st := range cv.c.Hooks {
		oh := specs.Hook{Path: cv.o.HookPath, Args: append([]string{cv.o.HookPath, "nspawn-hook", st.Action}, st.Args...)}
		switch st.Stage {
		case "createRuntime":
			h.CreateRuntime = append(h.CreateRuntime, oh)
		case "poststop":
			h.Poststop = append(h.Poststop, oh)
		}
	}
	cv.spec.Hooks = h
}
