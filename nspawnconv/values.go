package nspawnconv

import (
	"fmt"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/oci"
)

// AllCapabilities lists every capability name Linux knows, in number order.
var AllCapabilities = oci.CapabilityNames()

// normCapability turns "sys_admin", "CAP_SYS_ADMIN", "all" into canonical form.
func normCapability(name string) (string, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if n == "ALL" {
		return "all", nil
	}
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	for _, c := range AllCapabilities {
		if c == n {
			return n, nil
		}
	}
	return "", fmt.Errorf("unknown capability %q", name)
}

func parseCapList(v string, cli bool) ([]string, error) {
	var items []string
	if cli {
		items = strings.Split(v, ",")
	} else {
		w, err := SplitWords(v)
		if err != nil {
			return nil, err
		}
		items = w
	}
	var out []string
	for _, it := range items {
		if it == "" {
			continue
		}
		c, err := normCapability(it)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

var signalNames = map[string]unix.Signal{
	"HUP": unix.SIGHUP, "INT": unix.SIGINT, "QUIT": unix.SIGQUIT, "ILL": unix.SIGILL,
	"TRAP": unix.SIGTRAP, "ABRT": unix.SIGABRT, "BUS": unix.SIGBUS, "FPE": unix.SIGFPE,
	"KILL": unix.SIGKILL, "USR1": unix.SIGUSR1, "SEGV": unix.SIGSEGV, "USR2": unix.SIGUSR2,
	"PIPE": unix.SIGPIPE, "ALRM": unix.SIGALRM, "TERM": unix.SIGTERM, "STKFLT": unix.SIGSTKFLT,
	"CHLD": unix.SIGCHLD, "CONT": unix.SIGCONT, "STOP": unix.SIGSTOP, "TSTP": unix.SIGTSTP,
	"TTIN": unix.SIGTTIN, "TTOU": unix.SIGTTOU, "URG": unix.SIGURG, "XCPU": unix.SIGXCPU,
	"XFSZ": unix.SIGXFSZ, "VTALRM": unix.SIGVTALRM, "PROF": unix.SIGPROF, "WINCH": unix.SIGWINCH,
	"IO": unix.SIGIO, "PWR": unix.SIGPWR, "SYS": unix.SIGSYS,
}

const sigRTMIN, sigRTMAX = 34, 64

// normSignal canonicalises "TERM", "SIGTERM", "15", "RTMIN+3" to "SIGTERM"/"SIGRTMIN+3".
func normSignal(v string) (string, error) {
	u := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(v)), "SIG")
	if n, err := strconv.Atoi(u); err == nil {
		if n <= 0 || n > sigRTMAX {
			return "", fmt.Errorf("invalid signal number %q", v)
		}
		for name, s := range signalNames {
			if int(s) == n {
				return "SIG" + name, nil
			}
		}
		return fmt.Sprintf("SIGRTMIN+%d", n-sigRTMIN), nil
	}
	if _, ok := signalNames[u]; ok {
		return "SIG" + u, nil
	}
	for _, base := range []string{"RTMIN", "RTMAX"} {
		if !strings.HasPrefix(u, base) {
			continue
		}
		rest := u[len(base):]
		if rest == "" {
			return "SIG" + base, nil
		}
		n, err := strconv.Atoi(rest)
		if err != nil || (base == "RTMIN" && (n < 0 || n > sigRTMAX-sigRTMIN)) ||
			(base == "RTMAX" && (n > 0 || n < sigRTMIN-sigRTMAX)) {
			return "", fmt.Errorf("invalid real-time signal %q", v)
		}
		return fmt.Sprintf("SIG%s%+d", base, n), nil
	}
	return "", fmt.Errorf("unknown signal %q", v)
}

// rlimitKinds maps the Limit*= suffix to how its value is read.
var rlimitKinds = map[string]string{
	"CPU": "sec", "FSIZE": "bytes", "DATA": "bytes", "STACK": "bytes", "CORE": "bytes",
	"RSS": "bytes", "NOFILE": "num", "AS": "bytes", "NPROC": "num", "MEMLOCK": "bytes",
	"LOCKS": "num", "SIGPENDING": "num", "MSGQUEUE": "bytes", "NICE": "nice",
	"RTPRIO": "num", "RTTIME": "usec",
}

// RlimitNames returns the Limit*= suffixes in a stable order.
func RlimitNames() []string {
	names := make([]string, 0, len(rlimitKinds))
	for n := range rlimitKinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

const infinity = math.MaxUint64

// parseRlimit reads "VALUE", "SOFT:HARD" or "infinity" with the unit rules
// of systemd.exec's LimitXXX=.
func parseRlimit(resource, v string) (Rlimit, error) {
	kind, ok := rlimitKinds[resource]
	if !ok {
		return Rlimit{}, fmt.Errorf("unknown resource limit %q", resource)
	}
	soft, hard, two := strings.Cut(v, ":")
	s, err := parseRlimitValue(kind, soft)
	if err != nil {
		return Rlimit{}, err
	}
	if !two {
		return Rlimit{Soft: s, Hard: s}, nil
	}
	h, err := parseRlimitValue(kind, hard)
	if err != nil {
		return Rlimit{}, err
	}
	if s > h {
		return Rlimit{}, fmt.Errorf("soft limit %q above hard limit %q", soft, hard)
	}
	return Rlimit{Soft: s, Hard: h}, nil
}

func parseRlimitValue(kind, v string) (uint64, error) {
	v = strings.TrimSpace(v)
	if v == "infinity" {
		return infinity, nil
	}
	switch kind {
	case "bytes":
		return parseSize(v)
	case "sec":
		us, err := parseTimeUsec(v, 1e6)
		return (us + 999999) / 1e6, err
	case "usec":
		return parseTimeUsec(v, 1)
	case "nice":
		// A signed value is a nice level; a bare number is the raw rlimit.
		if strings.HasPrefix(v, "+") || strings.HasPrefix(v, "-") {
			n, err := strconv.Atoi(v)
			if err != nil || n < -20 || n > 19 {
				return 0, fmt.Errorf("invalid nice level %q", v)
			}
			return uint64(20 - n), nil
		}
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid number %q", v)
	}
	return n, nil
}

func parseSize(v string) (uint64, error) {
	mult := uint64(1)
	units := "KMGTPE"
	if v != "" {
		if i := strings.IndexByte(units, strings.ToUpper(v[len(v)-1:])[0]); i >= 0 {
			mult = 1 << (10 * (i + 1))
			v = v[:len(v)-1]
		} else if v[len(v)-1] == 'B' {
			v = v[:len(v)-1]
		}
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q", v)
	}
	if n > math.MaxUint64/mult {
		return 0, fmt.Errorf("size %q overflows", v)
	}
	return n * mult, nil
}

var timeUnits = []struct {
	suffix string
	usec   uint64
}{
	{"usec", 1}, {"us", 1}, {"msec", 1000}, {"ms", 1000}, {"seconds", 1e6}, {"second", 1e6},
	{"sec", 1e6}, {"s", 1e6}, {"minutes", 60e6}, {"minute", 60e6}, {"min", 60e6},
	{"m", 60e6}, {"hours", 3600e6}, {"hour", 3600e6}, {"hr", 3600e6}, {"h", 3600e6},
	{"days", 86400e6}, {"day", 86400e6}, {"d", 86400e6},
}

// parseTimeUsec reads "30", "5min", "1h 30min"; bare numbers are in defUnit usec.
func parseTimeUsec(v string, defUnit uint64) (uint64, error) {
	fields := strings.Fields(v)
	if len(fields) == 0 {
		return 0, fmt.Errorf("empty time value")
	}
	var total uint64
	for _, f := range fields {
		i := strings.IndexFunc(f, func(r rune) bool { return r < '0' || r > '9' })
		num, unit := f, ""
		if i >= 0 {
			num, unit = f[:i], f[i:]
		}
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid time %q", v)
		}
		mult := defUnit
		if unit != "" {
			mult = 0
			for _, u := range timeUnits {
				if u.suffix == unit {
					mult = u.usec
					break
				}
			}
			if mult == 0 {
				return 0, fmt.Errorf("invalid time unit %q in %q", unit, v)
			}
		}
		total += n * mult
	}
	return total, nil
}

// parseCPUSet normalises "0 2-3,5" into the cpuset syntax "0,2-3,5".
func parseCPUSet(v string) (string, error) {
	items := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	for _, it := range items {
		lo, hi, isRange := strings.Cut(it, "-")
		a, err1 := strconv.ParseUint(lo, 10, 16)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.ParseUint(hi, 10, 16)
		}
		if err1 != nil || err2 != nil || b < a {
			return "", fmt.Errorf("invalid CPU set entry %q", it)
		}
	}
	return strings.Join(items, ","), nil
}

func parsePrivateUsers(v string, digitsAreBase bool) (PrivateUsers, error) {
	switch v {
	case "pick":
		return PrivateUsers{Mode: UserNSPick, Range: 65536}, nil
	case "identity":
		return PrivateUsers{Mode: UserNSIdentity, Base: 0, Range: 65536}, nil
	}
	digits := strings.Trim(v, "0123456789") == ""
	if b, err := ParseBoolean(v); err == nil && !(digitsAreBase && digits) {
		if b {
			return PrivateUsers{Mode: UserNSOwner, Range: 65536}, nil
		}
		return PrivateUsers{Mode: UserNSOff}, nil
	}
	base, rng, hasRange := strings.Cut(v, ":")
	b, err := strconv.ParseUint(base, 10, 32)
	if err != nil {
		return PrivateUsers{}, fmt.Errorf("invalid UID base %q", base)
	}
	r := uint64(65536)
	if hasRange {
		if r, err = strconv.ParseUint(rng, 10, 32); err != nil || r == 0 {
			return PrivateUsers{}, fmt.Errorf("invalid UID range %q", rng)
		}
	}
	if b+r > math.MaxUint32 {
		return PrivateUsers{}, fmt.Errorf("UID range %d:%d overflows", b, r)
	}
	return PrivateUsers{Mode: UserNSFixed, Base: uint32(b), Range: uint32(r)}, nil
}

func parsePort(v string) (PortForward, error) {
	p := PortForward{Protocol: "tcp"}
	rest := v
	if proto, r, ok := strings.Cut(v, ":"); ok && (proto == "tcp" || proto == "udp") {
		p.Protocol, rest = proto, r
	}
	hostS, contS, hasCont := strings.Cut(rest, ":")
	h, err := strconv.ParseUint(hostS, 10, 16)
	if err != nil || h == 0 {
		return p, fmt.Errorf("invalid host port %q", hostS)
	}
	c := h
	if hasCont {
		if c, err = strconv.ParseUint(contS, 10, 16); err != nil || c == 0 {
			return p, fmt.Errorf("invalid container port %q", contS)
		}
	}
	p.Host, p.Container = uint16(h), uint16(c)
	return p, nil
}

// parseBind reads SRC[:DST[:OPTS]] as nspawn's bind_mount_parse(): source
// and destination are words with backslash escapes, the rest is options.
func parseBind(v string, ro bool) (BindMount, error) {
	src, rest, more, err := extractColonWord(v)
	if err != nil {
		return BindMount{}, err
	}
	b := BindMount{Source: src, ReadOnly: ro, Recursive: true, Dest: strings.TrimPrefix(src, "+")}
	opts := ""
	if more {
		if b.Dest, opts, _, err = extractColonWord(rest); err != nil {
			return BindMount{}, err
		}
	}
	if err := b.parseOptions(opts); err != nil {
		return BindMount{}, err
	}
	if p := strings.TrimPrefix(src, "+"); src != "" && !path.IsAbs(p) {
		return BindMount{}, fmt.Errorf("bind source %q is not absolute", src)
	}
	if b.Dest == "" || !path.IsAbs(b.Dest) {
		return BindMount{}, fmt.Errorf("bind destination %q is not absolute", b.Dest)
	}
	if path.Clean(b.Dest) == "/" {
		// A mount over the whole root has no OCI form (root.path is the
		// root); it would hide the image behind a host directory.
		return BindMount{}, fmt.Errorf("bind destination %q is the root directory; use --directory= for the root", b.Dest)
	}
	return b, nil
}

func (b *BindMount) parseOptions(opts string) error {
	if opts == "" {
		return nil
	}
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "rbind":
			b.Recursive = true
		case "norbind":
			b.Recursive = false
		case "noidmap":
			b.IDMap = ""
		case "idmap", "rootidmap":
			b.IDMap = o
		case "":
		default:
			return fmt.Errorf("invalid bind mount option %q", o)
		}
	}
	return nil
}

// parseOverlay reads LAYER:…:DEST as nspawn's overlay_mount_parse(): every
// word with backslash escapes.
func parseOverlay(v string, ro bool) (OverlayMount, error) {
	parts, err := splitColon(v)
	if err != nil {
		return OverlayMount{}, err
	}
	if len(parts) < 2 {
		return OverlayMount{}, fmt.Errorf("overlay spec %q needs at least two paths", v)
	}
	o := OverlayMount{ReadOnly: ro, Dest: parts[len(parts)-1], Layers: parts[:len(parts)-1]}
	if len(parts) == 2 {
		// Two-path form: the second path is both the top (host) layer and
		// the mount point in the container.
		o.Layers, o.Dest = parts, strings.TrimPrefix(parts[1], "+")
	}
	if !path.IsAbs(o.Dest) || path.Clean(o.Dest) == "/" {
		return OverlayMount{}, fmt.Errorf("overlay destination %q must be absolute and not /", o.Dest)
	}
	for i, l := range o.Layers {
		isUpper := i == len(o.Layers)-1 && !ro
		if l == "" && isUpper {
			continue // temporary upper directory
		}
		if !path.IsAbs(strings.TrimPrefix(l, "+")) {
			return OverlayMount{}, fmt.Errorf("overlay path %q is not absolute", l)
		}
	}
	return o, nil
}

// parseTmpfs reads PATH[:OPTIONS] as nspawn's tmpfs_mount_parse(): the path
// is a word with backslash escapes ("\:" a colon), the options the raw rest.
func parseTmpfs(v string) (TmpfsMount, error) {
	p, opts, _, err := extractColonWord(v)
	if err != nil {
		return TmpfsMount{}, err
	}
	if !path.IsAbs(p) || path.Clean(p) == "/" {
		return TmpfsMount{}, fmt.Errorf("tmpfs path %q must be absolute and not /", p)
	}
	return TmpfsMount{Path: path.Clean(p), Options: opts}, nil
}

func oneOf(v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("invalid value %q (expected one of %s)", v, strings.Join(allowed, ", "))
}
