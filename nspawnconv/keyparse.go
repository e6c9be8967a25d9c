package nspawnconv

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/hull-runtime/hull/nspawnconv/syscontainer"
)

func cliKeys() []KeyDef {
	str := func(get func(*Settings) *string) func(*Settings, string, *parseCtx) error { return stringField(get) }
	return []KeyDef{
		{Flags: []string{"--settings"}, arg: argRequired, Group: GroupCLI, Kind: KindMapped,
			What: "which .nspawn file is read and trusted, and CLI/file precedence", parse: parseSettingsMode},
		{Flags: []string{"-D", "--directory"}, arg: argRequired, Group: GroupCLI, Kind: KindMapped,
			What: "root.path", parse: str(func(s *Settings) *string { return &s.Directory })},
		{Flags: []string{"--template"}, arg: argRequired, Group: GroupCLI, Kind: KindHooked,
			What: "pre-step: copy the template tree to the directory if it does not exist", parse: absPathField(func(s *Settings) *string { return &s.Template })},
		{Flags: []string{"-i", "--image"}, arg: argRequired, Group: GroupCLI, Kind: KindRefused,
			What: "refused: disk images need dissect/loop mounting (not yet supported; use -D)", parse: str(func(s *Settings) *string { return &s.Image })},
		{Flags: []string{"--oci-bundle"}, arg: argRequired, Group: GroupCLI, Kind: KindRefused,
			What: "refused: already an OCI bundle, run it directly", parse: str(func(s *Settings) *string { return &s.OCIBundle })},
		{Flags: []string{"--root-hash"}, arg: argRequired, Group: GroupCLI, Kind: KindRefused,
			What: "refused: dm-verity applies to disk images only", parse: str(func(s *Settings) *string { return &s.RootHash })},
		{Flags: []string{"--root-hash-sig"}, arg: argRequired, Group: GroupCLI, Kind: KindRefused,
			What: "refused: dm-verity applies to disk images only", parse: str(func(s *Settings) *string { return &s.RootHashSig })},
		{Flags: []string{"--verity-data"}, arg: argRequired, Group: GroupCLI, Kind: KindRefused,
			What: "refused: dm-verity applies to disk images only", parse: str(func(s *Settings) *string { return &s.VerityData })},
		{Flags: []string{"-M", "--machine"}, arg: argRequired, Group: GroupCLI, Kind: KindMapped,
			What: "hostname default, .nspawn file name, annotation " + syscontainer.AnnotationMachine, parse: parseMachineName},
		{Flags: []string{"-S", "--slice"}, arg: argRequired, Group: GroupCLI, Kind: KindMapped,
			What: "linux.cgroupsPath under the slice's cgroup", parse: parseSlice},
		{Flags: []string{"--property"}, arg: argRequired, Group: GroupCLI, Kind: KindMapped,
			What:  "linux.resources for MemoryMax, MemoryHigh (v2), CPUQuota, CPUWeight, TasksMax, IOWeight, DeviceAllow, and the same on the machine scope machined makes (register hook); other properties refused",
			parse: listField(func(s *Settings) *[]string { return &s.Properties }, false, nil)},
		{Flags: []string{"--register"}, arg: argRequired, Group: GroupCLI, Kind: KindHooked,
			What: "createRuntime hook registers with systemd-machined (default: when reachable; yes: must), poststop unregisters", parse: func(s *Settings, v string, _ *parseCtx) error {
				b, err := ParseBoolean(v)
				s.Register = &b
				return err
			}},
		{Flags: []string{"--keep-unit"}, arg: argNone, Group: GroupCLI, Kind: KindHooked,
			What: "hull nspawn: the machine in the caller's unit cgroup (payload), registered as that unit; no scope of its own", parse: func(s *Settings, _ string, _ *parseCtx) error { s.KeepUnit = true; return nil }},
		{Flags: []string{"-U"}, arg: argNone, Group: GroupPrivateUsers, Kind: KindMapped,
			What: "PrivateUsers=pick + PrivateUsersOwnership=auto", parse: func(s *Settings, _ string, _ *parseCtx) error {
				s.PrivateUsers = PrivateUsers{Mode: UserNSPick, Range: 65536}
				s.PrivateUsersOwnership = "auto"
				s.mark(GroupPrivateUsersOwnership)
				return nil
			}},
		{Flags: []string{"--network-namespace-path"}, arg: argRequired, Group: GroupNetwork, Kind: KindMapped,
			What: "linux.namespaces network with path", parse: absPathField(func(s *Settings) *string { return &s.NetworkNamespacePath })},
		{Flags: []string{"-Z", "--selinux-context"}, arg: argRequired, Group: GroupCLI, Kind: KindMapped,
			What: "process.selinuxLabel", parse: str(func(s *Settings) *string { return &s.SELinuxContext })},
		{Flags: []string{"-L", "--selinux-apifs-context"}, arg: argRequired, Group: GroupCLI, Kind: KindMapped,
			What: "linux.mountLabel", parse: str(func(s *Settings) *string { return &s.SELinuxAPIFSContext })},
		{Flags: []string{"--console"}, arg: argRequired, Group: GroupCLI, Kind: KindMapped,
			What:  "process.terminal (false for pipe) + annotation " + syscontainer.AnnotationConsole,
			parse: enumField(func(s *Settings) *string { return &s.Console }, "interactive", "read-only", "passive", "pipe", "autopipe")},
		{Flags: []string{"-P", "--pipe"}, arg: argNone, Group: GroupCLI, Kind: KindMapped,
			What: "--console=pipe: process.terminal=false", parse: func(s *Settings, _ string, _ *parseCtx) error { s.Console = "pipe"; return nil }},
		{Flags: []string{"--load-credential"}, arg: argRequired, Group: GroupCLI, Kind: KindHooked,
			What: "pre-step copies the file into the bundle's credentials dir, bound ro at /run/host/credentials; CREDENTIALS_DIRECTORY", parse: credentialField(true)},
		{Flags: []string{"--set-credential"}, arg: argRequired, Group: GroupCLI, Kind: KindHooked,
			What: "pre-step writes the value into the bundle's credentials dir, bound ro at /run/host/credentials; CREDENTIALS_DIRECTORY", parse: credentialField(false)},
		{Flags: []string{"--rlimit"}, arg: argRequired, Group: GroupRlimit, Kind: KindMapped,
			What: "process.rlimits (NAME=SOFT:HARD)", parse: func(s *Settings, v string, _ *parseCtx) error {
				name, val, ok := strings.Cut(v, "=")
				if !ok {
					return fmt.Errorf("expected NAME=VALUE, got %q", v)
				}
				return setRlimit(s, strings.TrimPrefix(strings.ToUpper(name), "RLIMIT_"), val)
			}},
		{Flags: []string{"-j"}, arg: argNone, Group: GroupLinkJournal, Kind: KindHooked,
			What: "--link-journal=try-guest", parse: func(s *Settings, _ string, _ *parseCtx) error { s.LinkJournal = "try-guest"; return nil }},
		{Flags: []string{"-q", "--quiet"}, arg: argNone, Group: GroupCLI, Kind: KindMapped,
			What: "no bundle effect (tool output only)", parse: func(s *Settings, _ string, _ *parseCtx) error { s.Quiet = true; return nil }},
		{Flags: []string{"--no-pager"}, arg: argNone, Group: GroupCLI, Kind: KindMapped,
			What: "no bundle effect (tool output only)", parse: func(s *Settings, _ string, _ *parseCtx) error { s.NoPager = true; return nil }},
		{Flags: []string{"-h", "--help"}, arg: argNone, Group: GroupCLI, Kind: KindMapped,
			What: "no bundle effect: Settings.Help tells the CLI to print help", parse: func(s *Settings, _ string, _ *parseCtx) error { s.Help = true; return nil }},
		{Flags: []string{"--version"}, arg: argNone, Group: GroupCLI, Kind: KindMapped,
			What: "no bundle effect: Settings.Version tells the CLI to print its version", parse: func(s *Settings, _ string, _ *parseCtx) error { s.Version = true; return nil }},
	}
}

func parseEnvironment(s *Settings, v string, c *parseCtx) error {
	if v == "" {
		s.Environment = nil
		return nil
	}
	if !c.cli {
		return listField(func(s *Settings) *[]string { return &s.Environment }, false, checkEnv)(s, v, c)
	}
	if !strings.Contains(v, "=") {
		// nspawn copies the caller's value and skips unset names.
		val, ok := "", false
		if c.lookupEnv != nil {
			val, ok = c.lookupEnv(v)
		}
		if !ok {
			return nil
		}
		v = v + "=" + val
	}
	if err := checkEnv(v); err != nil {
		return err
	}
	s.Environment = append(s.Environment, v)
	return nil
}

func parsePivotRoot(s *Settings, v string, _ *parseCtx) error {
	if v == "" {
		s.PivotRoot, s.PivotRootOld = "", ""
		return nil
	}
	newRoot, old, _ := strings.Cut(v, ":")
	if !path.IsAbs(newRoot) || (old != "" && !path.IsAbs(old)) {
		return fmt.Errorf("pivot root paths in %q must be absolute", v)
	}
	s.PivotRoot, s.PivotRootOld = path.Clean(newRoot), old
	return nil
}

func parseKillSignal(s *Settings, v string, _ *parseCtx) error {
	if v == "" {
		s.KillSignal = ""
		return nil
	}
	sig, err := normSignal(v)
	s.KillSignal = sig
	return err
}

var uuidRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`)
})

// normUUID returns the lower-case dashed form of a 128-bit ID.
func normUUID(v string) (string, error) {
	if !uuidRe().MatchString(v) {
		return "", fmt.Errorf("invalid machine ID %q", v)
	}
	h := strings.ToLower(strings.ReplaceAll(v, "-", ""))
	if strings.Trim(h, "0") == "" {
		return "", fmt.Errorf("machine ID %q is all zeros", v)
	}
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

func parseMachineID(s *Settings, v string, _ *parseCtx) error {
	if v == "" {
		s.MachineID = ""
		return nil
	}
	id, err := normUUID(v)
	s.MachineID = id
	return err
}

func parsePrivateUsersField(s *Settings, v string, c *parseCtx) error {
	if v == "" {
		s.PrivateUsers = PrivateUsers{}
		return nil
	}
	// nspawn's --private-users= reads digits as a UID base, never as a
	// boolean ("--private-users=0" is base 0); the file's PrivateUsers=
	// goes through parse_boolean first (PrivateUsers=0 is "no").
	pu, err := parsePrivateUsers(v, c != nil && c.cli)
	s.PrivateUsers = pu
	return err
}

var syscallNameRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^@?[a-z0-9_-]+$`) })

func parseSyscallFilter(s *Settings, v string, c *parseCtx) error {
	if v == "" {
		s.SyscallAllow, s.SyscallDeny = nil, nil
		return nil
	}
	deny := strings.HasPrefix(v, "~")
	words, err := SplitWords(strings.TrimPrefix(v, "~"))
	if err != nil {
		return err
	}
	for _, w := range words {
		if !syscallNameRe().MatchString(w) {
			return fmt.Errorf("invalid system call name %q", w)
		}
	}
	if deny {
		s.SyscallDeny = append(s.SyscallDeny, words...)
	} else {
		s.SyscallAllow = append(s.SyscallAllow, words...)
	}
	return nil
}

func parseOOMScore(s *Settings, v string, _ *parseCtx) error {
	if v == "" {
		s.OOMScoreAdjust = nil
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < -1000 || n > 1000 {
		return fmt.Errorf("OOM score adjustment %q not in -1000…1000", v)
	}
	s.OOMScoreAdjust = &n
	return nil
}

var hostnameRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9][A-Za-z0-9-]{0,62})*$`)
})

func parseHostname(s *Settings, v string, _ *parseCtx) error {
	if v != "" && (len(v) > 64 || !hostnameRe().MatchString(v)) {
		return fmt.Errorf("invalid hostname %q", v)
	}
	s.Hostname = v
	return nil
}

func parseMachineName(s *Settings, v string, c *parseCtx) error {
	if err := parseHostname(&Settings{}, v, c); err != nil || v == "" {
		return fmt.Errorf("invalid machine name %q", v)
	}
	s.Machine = v
	return nil
}

func parseLinkJournal(s *Settings, v string, _ *parseCtx) error {
	if v == "" {
		s.LinkJournal = ""
		return nil
	}
	if b, err := ParseBoolean(v); err == nil {
		s.LinkJournal = map[bool]string{true: "auto", false: "no"}[b]
		return nil
	}
	if err := oneOf(v, "no", "host", "try-host", "guest", "try-guest", "auto"); err != nil {
		return err
	}
	s.LinkJournal = v
	return nil
}

func parseVolatile(s *Settings, v string, _ *parseCtx) error {
	switch v {
	case "":
		s.Volatile = ""
	case "state", "overlay":
		s.Volatile = v
	default:
		b, err := ParseBoolean(v)
		if err != nil {
			return fmt.Errorf("invalid volatile mode %q (expected a boolean, state or overlay)", v)
		}
		s.Volatile = map[bool]string{true: "yes", false: "no"}[b]
	}
	return nil
}

func parseVethExtra(s *Settings, v string, _ *parseCtx) error {
	if v == "" {
		s.VirtualEthernetExtra = nil
		return nil
	}
	h, c, ok := strings.Cut(v, ":")
	if !ok {
		c = h
	}
	if err := checkIfName(h); err != nil {
		return err
	}
	if err := checkIfName(c); err != nil {
		return err
	}
	s.VirtualEthernetExtra = append(s.VirtualEthernetExtra, VethExtra{Host: h, Container: c})
	return nil
}

func parseSettingsMode(s *Settings, v string, _ *parseCtx) error {
	switch v {
	case "override", "trusted":
		s.SettingsMode = SettingsMode(v)
		return nil
	}
	b, err := ParseBoolean(v)
	if err != nil {
		return fmt.Errorf("invalid settings mode %q (expected a boolean, override or trusted)", v)
	}
	s.SettingsMode = map[bool]SettingsMode{true: SettingsYes, false: SettingsNo}[b]
	return nil
}

func parseSlice(s *Settings, v string, _ *parseCtx) error {
	if !strings.HasSuffix(v, ".slice") {
		v += ".slice"
	}
	if strings.ContainsAny(v, "/ ") || strings.HasPrefix(v, "-") {
		return fmt.Errorf("invalid slice name %q", v)
	}
	s.Slice = v
	return nil
}

func credentialField(load bool) func(*Settings, string, *parseCtx) error {
	return func(s *Settings, v string, _ *parseCtx) error {
		id, val, ok := strings.Cut(v, ":")
		if !ok || id == "" || strings.ContainsAny(id, "/") || id == "." || id == ".." {
			return fmt.Errorf("invalid credential %q (expected ID:%s)", v, map[bool]string{true: "PATH", false: "VALUE"}[load])
		}
		cr := Credential{ID: id, Load: load}
		if load {
			if !path.IsAbs(val) {
				return fmt.Errorf("credential path %q is not absolute", val)
			}
			cr.Path = val
		} else {
			cr.Value = val
		}
		s.Credentials = append(s.Credentials, cr)
		return nil
	}
}
