package nspawnconv

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
)

// untrustedIgnored are the groups an untrusted file may not set at all
// (systemd 252 merge_settings(); BindUser= as the man page says).
var untrustedIgnored = map[Group]bool{
	GroupAmbientCapability: true, GroupMachineID: true, GroupCustomMounts: true,
	GroupBindUser: true, GroupNetwork: true, GroupPorts: true,
	GroupPrivateUsers: true, GroupPrivateUsersOwnership: true,
	GroupRlimit: true, GroupOOMScoreAdjust: true, GroupCPUAffinity: true,
	GroupLinkJournal: true,
}

func untrustedWarning(key string) string {
	return fmt.Sprintf("ignoring %s= from untrusted settings file", key)
}

// Merge combines command-line settings with a parsed .nspawn file following
// nspawn's rules: per group the command line wins (the file wins with
// --settings=override), an untrusted file loses its privileged settings
// (unless --settings=trusted), --settings=no ignores the file. file may be nil.
func Merge(cli, file *Settings, trusted bool) (*Settings, []string) {
	out := cli.clone()
	if file == nil || cli.SettingsMode == SettingsNo {
		return out, nil
	}
	trusted = trusted || cli.SettingsMode == SettingsTrusted
	override := cli.SettingsMode == SettingsOverride
	var warnings []string
	for g := GroupNone + 1; g < groupCount; g++ {
		if !file.set.has(g) || (cli.set.has(g) && !override) {
			continue
		}
		src := file
		if !trusted {
			if untrustedIgnored[g] {
				for _, k := range file.fileKeys[g] {
					warnings = append(warnings, untrustedWarning(k))
				}
				continue
			}
			src = untrustedView(file, g, &warnings)
		}
		copyGroup(out, src, g)
		out.mark(g)
		out.takeOrigins(file, g)
	}
	return out, warnings
}

// untrustedView strips the privileged half of mixed groups: added
// capabilities (drops still apply) and allow-listed system calls.
func untrustedView(file *Settings, g Group, warnings *[]string) *Settings {
	switch {
	case g == GroupCapability && len(file.Capability) > 0:
		c := file.clone()
		c.Capability = nil
		*warnings = append(*warnings, untrustedWarning("Capability"))
		return c
	case g == GroupSystemCallFilter && len(file.SyscallAllow) > 0:
		c := file.clone()
		c.SyscallAllow = nil
		*warnings = append(*warnings, "ignoring allow-listed SystemCallFilter= entries from untrusted settings file")
		return c
	}
	return file
}

func (s *Settings) clone() *Settings {
	c := *s
	c.Parameters = slices.Clone(s.Parameters)
	c.Environment = slices.Clone(s.Environment)
	c.Capability = slices.Clone(s.Capability)
	c.DropCapability = slices.Clone(s.DropCapability)
	c.AmbientCapability = slices.Clone(s.AmbientCapability)
	c.SyscallAllow = slices.Clone(s.SyscallAllow)
	c.SyscallDeny = slices.Clone(s.SyscallDeny)
	c.Rlimits = maps.Clone(s.Rlimits)
	c.Binds = slices.Clone(s.Binds)
	c.BindUsers = slices.Clone(s.BindUsers)
	c.TmpFS = slices.Clone(s.TmpFS)
	c.Inaccessible = slices.Clone(s.Inaccessible)
	c.Overlays = slices.Clone(s.Overlays)
	c.VirtualEthernetExtra = slices.Clone(s.VirtualEthernetExtra)
	c.Interfaces = slices.Clone(s.Interfaces)
	c.MACVLAN = slices.Clone(s.MACVLAN)
	c.IPVLAN = slices.Clone(s.IPVLAN)
	c.Ports = slices.Clone(s.Ports)
	c.Properties = slices.Clone(s.Properties)
	c.Credentials = slices.Clone(s.Credentials)
	c.origins = maps.Clone(s.origins)
	return &c
}

// takeOrigins replaces the origins of group g's keys by the file's, whose
// values the merge just took.
func (s *Settings) takeOrigins(file *Settings, g Group) {
	for _, k := range file.fileKeys[g] {
		if s.origins == nil {
			s.origins = map[string][]origin{}
		}
		s.origins[k] = file.origins[k]
	}
}

func copyGroup(d, s *Settings, g Group) {
	switch g {
	case GroupStartMode:
		d.Boot, d.ProcessTwo = s.Boot, s.ProcessTwo
	case GroupParameters:
		d.Parameters = slices.Clone(s.Parameters)
	case GroupEnvironment:
		d.Environment = slices.Clone(s.Environment)
	case GroupUser:
		d.User = s.User
	case GroupWorkingDirectory:
		d.WorkingDirectory = s.WorkingDirectory
	case GroupPivotRoot:
		d.PivotRoot, d.PivotRootOld = s.PivotRoot, s.PivotRootOld
	case GroupCapability:
		d.Capability, d.DropCapability = slices.Clone(s.Capability), slices.Clone(s.DropCapability)
	case GroupAmbientCapability:
		d.AmbientCapability = slices.Clone(s.AmbientCapability)
	case GroupNoNewPrivileges:
		d.NoNewPrivileges = s.NoNewPrivileges
	case GroupKillSignal:
		d.KillSignal = s.KillSignal
	case GroupPersonality:
		d.Personality = s.Personality
	case GroupMachineID:
		d.MachineID = s.MachineID
	case GroupPrivateUsers:
		d.PrivateUsers = s.PrivateUsers
	case GroupPrivateUsersOwnership:
		d.PrivateUsersOwnership = s.PrivateUsersOwnership
	case GroupNotifyReady:
		d.NotifyReady = s.NotifyReady
	case GroupSystemCallFilter:
		d.SyscallAllow, d.SyscallDeny = slices.Clone(s.SyscallAllow), slices.Clone(s.SyscallDeny)
	case GroupRlimit:
		d.Rlimits = maps.Clone(s.Rlimits)
	case GroupOOMScoreAdjust:
		d.OOMScoreAdjust = s.OOMScoreAdjust
	case GroupCPUAffinity:
		d.CPUAffinity = s.CPUAffinity
	case GroupHostname:
		d.Hostname = s.Hostname
	case GroupResolvConf:
		d.ResolvConf = s.ResolvConf
	case GroupTimezone:
		d.Timezone = s.Timezone
	case GroupLinkJournal:
		d.LinkJournal = s.LinkJournal
	case GroupSuppressSync:
		d.SuppressSync = s.SuppressSync
	case GroupEphemeral:
		d.Ephemeral = s.Ephemeral
	case GroupReadOnly:
		d.ReadOnly = s.ReadOnly
	case GroupVolatile:
		d.Volatile = s.Volatile
	case GroupCustomMounts:
		d.Binds, d.TmpFS = slices.Clone(s.Binds), slices.Clone(s.TmpFS)
		d.Inaccessible, d.Overlays = slices.Clone(s.Inaccessible), slices.Clone(s.Overlays)
	case GroupBindUser:
		d.BindUsers = slices.Clone(s.BindUsers)
	case GroupNetwork:
		d.PrivateNetwork, d.VirtualEthernet = s.PrivateNetwork, s.VirtualEthernet
		d.VirtualEthernetExtra = slices.Clone(s.VirtualEthernetExtra)
		d.Interfaces, d.MACVLAN, d.IPVLAN = slices.Clone(s.Interfaces), slices.Clone(s.MACVLAN), slices.Clone(s.IPVLAN)
		d.Bridge, d.Zone = s.Bridge, s.Zone
	case GroupPorts:
		d.Ports = slices.Clone(s.Ports)
	}
}

// SearchRoots are the trusted directories searched for NAME.nspawn.
type SearchRoots struct {
	Trusted []string // default /etc/systemd/nspawn, /run/systemd/nspawn
}

// DefaultSearchRoots are nspawn's trusted settings directories.
var DefaultSearchRoots = SearchRoots{Trusted: []string{"/etc/systemd/nspawn", "/run/systemd/nspawn"}}

// FindSettingsFile looks up NAME.nspawn in the system's trusted directories,
// then next to the image (imageDir = the directory containing the machine's
// root directory). It returns "" when there is none.
func FindSettingsFile(machineName, imageDir string) (string, bool, error) {
	return DefaultSearchRoots.Find(machineName, imageDir)
}

// Find is FindSettingsFile with injectable roots.
func (r SearchRoots) Find(machineName, imageDir string) (string, bool, error) {
	if machineName == "" || filepath.Base(machineName) != machineName {
		return "", false, fmt.Errorf("invalid machine name %q for settings lookup", machineName)
	}
	name := machineName + ".nspawn"
	for _, dir := range r.Trusted {
		if ok, err := isFile(filepath.Join(dir, name)); err != nil || ok {
			return filepath.Join(dir, name), ok, err
		}
	}
	if imageDir == "" {
		return "", false, nil
	}
	p := filepath.Join(imageDir, name)
	ok, err := isFile(p)
	if err != nil || !ok {
		return "", false, err
	}
	return p, false, nil
}

// Trusts reports whether a settings file lies in one of the trusted
// directories: nspawn trusts a file by the directory it was found in (a
// symlink there is trusted, as nspawn opens it by that path), so the
// directory of an explicit path is resolved and compared.
func (r SearchRoots) Trusts(path string) (bool, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false, fmt.Errorf("settings file %s: %w", path, err)
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return false, fmt.Errorf("settings file %s: %w", path, err)
	}
	for _, t := range r.Trusted {
		if rt, err := filepath.EvalSymlinks(t); err == nil && rt == dir {
			return true, nil
		}
	}
	return false, nil
}

// MergeFile is Merge for the file at path; each warning names the file and
// says how to trust it.
func MergeFile(cli, file *Settings, path string, trusted bool) (*Settings, []string) {
	merged, warnings := Merge(cli, file, trusted)
	for i, w := range warnings {
		warnings[i] = fmt.Sprintf("%s: %s (only files in /etc/systemd/nspawn or /run/systemd/nspawn are trusted; --settings=trusted trusts this one)", path, w)
	}
	return merged, warnings
}

func isFile(p string) (bool, error) {
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat settings file %s: %w", p, err)
	}
	if st.IsDir() {
		return false, fmt.Errorf("settings file %s is a directory", p)
	}
	return true, nil
}

// Load parses a systemd-nspawn command line, finds and reads the machine's
// .nspawn file under roots (unless --settings=no) and merges the two.
func Load(args []string, lookupEnv func(string) (string, bool), roots SearchRoots) (*Settings, []string, error) {
	cli, err := ParseCommandLine(args, lookupEnv)
	if err != nil {
		return nil, nil, err
	}
	if cli.SettingsMode == SettingsNo {
		return cli, nil, nil
	}
	name, imageDir := cli.Machine, ""
	if cli.Directory != "" {
		dir := filepath.Clean(cli.Directory)
		imageDir = filepath.Dir(dir)
		if name == "" {
			name = filepath.Base(dir)
		}
	}
	if name == "" {
		return cli, nil, nil
	}
	p, trusted, err := roots.Find(name, imageDir)
	if err != nil || p == "" {
		return cli, nil, err
	}
	file, warnings, err := ParseFile(p)
	if err != nil {
		return nil, warnings, err
	}
	merged, mw := MergeFile(cli, file, p, trusted)
	return merged, append(warnings, mw...), nil
}
