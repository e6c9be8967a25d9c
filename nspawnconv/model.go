package nspawnconv

import "slices"

// Group is a precedence unit: a command-line flag that sets any setting of a
// group shadows the whole group from the .nspawn file (nspawn's
// arg_settings_mask), e.g. --bind= replaces every file mount.
type Group uint

const (
	GroupNone Group = iota
	GroupStartMode
	GroupParameters
	GroupEnvironment
	GroupUser
	GroupWorkingDirectory
	GroupPivotRoot
	GroupCapability
	GroupAmbientCapability
	GroupNoNewPrivileges
	GroupKillSignal
	GroupPersonality
	GroupMachineID
	GroupPrivateUsers
	GroupPrivateUsersOwnership
	GroupNotifyReady
	GroupSystemCallFilter
	GroupRlimit
	GroupOOMScoreAdjust
	GroupCPUAffinity
	GroupHostname
	GroupResolvConf
	GroupTimezone
	GroupLinkJournal
	GroupSuppressSync
	GroupEphemeral
	GroupReadOnly
	GroupVolatile
	GroupCustomMounts
	GroupBindUser
	GroupNetwork
	GroupPorts
	GroupCLI // command-line-only settings; never in a file
	groupCount
)

type groupSet uint64

func (g groupSet) has(x Group) bool { return g&(1<<x) != 0 }

// PrivateUsersMode is the kind of PrivateUsers= value.
type PrivateUsersMode string

const (
	UserNSOff      PrivateUsersMode = "no"
	UserNSOwner    PrivateUsersMode = "yes" // base from the root dir owner
	UserNSPick     PrivateUsersMode = "pick"
	UserNSIdentity PrivateUsersMode = "identity"
	UserNSFixed    PrivateUsersMode = "fixed" // explicit UID[:RANGE]
)

// PrivateUsers is the parsed PrivateUsers= / --private-users= value.
type PrivateUsers struct {
	Mode  PrivateUsersMode
	Base  uint32
	Range uint32
}

// BindMount is one Bind=/BindReadOnly= entry.
type BindMount struct {
	Source    string // "" = temporary directory; "+" prefix = inside the image
	Dest      string
	ReadOnly  bool
	Recursive bool
	IDMap     string // "", "idmap" or "rootidmap"
}

// TmpfsMount is one TemporaryFileSystem= entry.
type TmpfsMount struct {
	Path    string
	Options string
}

// OverlayMount is one Overlay=/OverlayReadOnly= entry: Layers bottom→top,
// the last layer is the upper dir unless ReadOnly.
type OverlayMount struct {
	Layers   []string
	Dest     string
	ReadOnly bool
}

// Rlimit is a parsed Limit*= value; ^uint64(0) is infinity.
type Rlimit struct {
	Soft, Hard uint64
}

// VethExtra is one VirtualEthernetExtra= entry.
type VethExtra struct {
	Host, Container string
}

// PortForward is one Port= entry.
type PortForward struct {
	Protocol  string // tcp or udp
	Host      uint16
	Container uint16
}

// Credential is one --load-credential= (Path) or --set-credential= (Value).
type Credential struct {
	ID    string
	Path  string
	Value string
	Load  bool
}

// SettingsMode is the --settings= value.
type SettingsMode string

const (
	SettingsYes      SettingsMode = "yes"
	SettingsNo       SettingsMode = "no"
	SettingsOverride SettingsMode = "override"
	SettingsTrusted  SettingsMode = "trusted"
)

// Settings is the one model both .nspawn files and command lines produce.
type Settings struct {
	// [Exec]
	Boot              bool
	Ephemeral         bool
	ProcessTwo        bool
	Parameters        []string
	Environment       []string
	User              string
	WorkingDirectory  string
	PivotRoot         string
	PivotRootOld      string
	Capability        []string // CAP_ names, or "all"
	DropCapability    []string
	AmbientCapability []string
	NoNewPrivileges   bool
	KillSignal        string
	Personality       string
	MachineID         string
	PrivateUsers      PrivateUsers
	NotifyReady       bool
	SyscallAllow      []string
	SyscallDeny       []string
	Rlimits           map[string]Rlimit // key: RLIMIT_NOFILE etc.
	OOMScoreAdjust    *int
	CPUAffinity       string // cpuset list, e.g. "0-3,7"
	Hostname          string
	ResolvConf        string
	Timezone          string
	LinkJournal       string
	SuppressSync      bool

	// [Files]
	ReadOnly              bool
	Volatile              string
	Binds                 []BindMount
	BindUsers             []string
	TmpFS                 []TmpfsMount
	Inaccessible          []string
	Overlays              []OverlayMount
	PrivateUsersOwnership string

	// [Network]
	PrivateNetwork       bool
	VirtualEthernet      bool
	VirtualEthernetExtra []VethExtra
	Interfaces           []string
	MACVLAN              []string
	IPVLAN               []string
	Bridge               string
	Zone                 string
	Ports                []PortForward

	// Command line only.
	Directory            string
	Template             string
	Image                string
	OCIBundle            string
	RootHash             string
	RootHashSig          string
	VerityData           string
	Machine              string
	Slice                string
	Properties           []string
	Register             *bool
	KeepUnit             bool
	NetworkNamespacePath string
	SELinuxContext       string
	SELinuxAPIFSContext  string
	Console              string
	Credentials          []Credential
	Quiet                bool
	NoPager              bool
	Help                 bool
	Version              bool
	SettingsMode         SettingsMode

	set groupSet
	// fileKeys are the keys a .nspawn file gave, per group, in the order
	// first seen, so an untrusted file's warnings name each one.
	fileKeys map[Group][]string
	// origins are where each key's values came from, by key name
	// ("AmbientCapability"), so errors raised after parsing can name the
	// file, the line and the value.
	origins map[string][]origin
}

// origin is one assignment of a key: where ("file:line", "" for the command
// line) and its value as given.
type origin struct {
	pos, value string
}

// noteOrigin records that key was given value at pos.
func (s *Settings) noteOrigin(key, pos, value string) {
	if s.origins == nil {
		s.origins = map[string][]origin{}
	}
	s.origins[key] = append(s.origins[key], origin{pos, value})
}

// IsSet reports whether any setting of group g was given.
func (s *Settings) IsSet(g Group) bool { return s.set.has(g) }

func (s *Settings) mark(g Group) { s.set |= 1 << g }

// markKey records that a file gave key (e.g. "Bind") of group g.
func (s *Settings) markKey(g Group, key string) {
	if s.fileKeys == nil {
		s.fileKeys = map[Group][]string{}
	}
	if !slices.Contains(s.fileKeys[g], key) {
		s.fileKeys[g] = append(s.fileKeys[g], key)
	}
}

// PrivateNetworkImplied reports whether any [Network] setting asks for a
// network namespace (every one except Port= implies Private=yes).
func (s *Settings) PrivateNetworkImplied() bool {
	return s.PrivateNetwork || s.VirtualEthernet || len(s.VirtualEthernetExtra) > 0 ||
		len(s.Interfaces) > 0 || len(s.MACVLAN) > 0 || len(s.IPVLAN) > 0 ||
		s.Bridge != "" || s.Zone != "" || s.NetworkNamespacePath != ""
}
