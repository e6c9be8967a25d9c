package nspawnconv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var initPaths = []string{"/usr/lib/systemd/systemd", "/lib/systemd/systemd", "/sbin/init"}
var shellPaths = []string{"/usr/bin/bash", "/bin/bash", "/usr/bin/sh", "/bin/sh"}

// NspawnCapabilities is nspawn's default capability set (arg_caps_retain).
var NspawnCapabilities = []string{
	"CAP_AUDIT_CONTROL", "CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH",
	"CAP_FOWNER", "CAP_FSETID", "CAP_IPC_OWNER", "CAP_KILL", "CAP_LEASE", "CAP_LINUX_IMMUTABLE",
	"CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_RAW", "CAP_SETFCAP",
	"CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_CHROOT",
	"CAP_SYS_NICE", "CAP_SYS_PTRACE", "CAP_SYS_RESOURCE", "CAP_SYS_TTY_CONFIG",
}

func (cv *converter) setupProcess() error {
	s, p := cv.s, cv.spec.Process
	root := cv.imageRoot()
	user := passwdEntry{Name: "root", Home: "/root"}
	if s.User != "" && s.User != "root" && s.User != "0" {
		u, groups, err := lookupUser(root, s.User)
		if err != nil {
			return fmt.Errorf("[Exec] User=%s: %w", s.User, err)
		}
		user = u
		p.User.AdditionalGids = groups
	}
	p.User.UID, p.User.GID = user.UID, user.GID
	args, err := cv.commandLine(root)
	if err != nil {
		return err
	}
	p.Args = args
	p.Cwd = s.WorkingDirectory
	if p.Cwd == "" {
		p.Cwd = "/"
		if !s.Boot && len(s.Parameters) == 0 && user.Home != "" {
			p.Cwd = user.Home // an interactive shell starts at home
		}
	}
	p.Env = cv.environment(user)
	p.NoNewPrivileges = s.NoNewPrivileges
	p.OOMScoreAdj = s.OOMScoreAdjust
	p.SelinuxLabel = s.SELinuxContext
	switch s.Console {
	case "pipe":
		p.Terminal = false
	case "autopipe":
		p.Terminal = cv.o.Interactive
	default:
		p.Terminal = true
	}
	names := make([]string, 0, len(s.Rlimits))
	for n := range s.Rlimits {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		l := s.Rlimits[n]
		p.Rlimits = append(p.Rlimits, specs.POSIXRlimit{Type: n, Soft: l.Soft, Hard: l.Hard})
		if res, ok := rlimitResource[n]; ok && l.Hard > cv.o.HostHardLimit(res) {
			cv.warn("Limit%s=: hard limit %d is above this host's %d; nspawn would lower it to what it may set, runtimes without CAP_SYS_RESOURCE fail the start instead",
				strings.TrimPrefix(n, "RLIMIT_"), l.Hard, cv.o.HostHardLimit(res))
		}
	}
	return nil
}

// rlimitResource numbers the rlimits for getrlimit(2).
var rlimitResource = map[string]int{
	"RLIMIT_CPU": unix.RLIMIT_CPU, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_DATA": unix.RLIMIT_DATA,
	"RLIMIT_STACK": unix.RLIMIT_STACK, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK,
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12,
	"RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}

// hostHardLimit is the converting process's hard limit (max when unknown).
func hostHardLimit(res int) uint64 {
	var l unix.Rlimit
	if err := unix.Getrlimit(res, &l); err != nil {
		return ^uint64(0)
	}
	return l.Max
}

// imageRoot is where files of the image are read at conversion time.
func (cv *converter) imageRoot() string {
	if cv.s.PivotRoot != "" {
		return cv.treeRoot() + cv.s.PivotRoot
	}
	return cv.treeRoot()
}

// treeRoot is the tree the machine's root will be: the root directory, or,
// while --template has not copied it yet, the template (nspawn copies
// before it looks for an init; the conversion reads ahead of the copy).
func (cv *converter) treeRoot() string {
	if cv.s.Template != "" {
		if _, err := os.Stat(cv.root); errors.Is(err, fs.ErrNotExist) {
			return cv.s.Template
		}
	}
	return cv.root
}

func (cv *converter) commandLine(root string) ([]string, error) {
	s := cv.s
	var args []string
	switch {
	case s.Boot:
		for _, p := range initPaths {
			if isExecutableInRoot(root, p) {
				args = append([]string{p}, s.Parameters...)
				break
			}
		}
		if args == nil {
			return nil, &RefusedError{Key: "Boot=", Reason: fmt.Sprintf("no init (%s) in %s", strings.Join(initPaths, ", "), root)}
		}
	case len(s.Parameters) > 0:
		args = slices.Clone(s.Parameters)
	default:
		for _, p := range shellPaths {
			if isExecutableInRoot(root, p) {
				args = []string{p}
				break
			}
		}
		if args == nil {
			return nil, &RefusedError{Key: "Parameters=", Reason: "no command given and no shell found in the image"}
		}
	}
	if s.ProcessTwo {
		args = append([]string{"/run/host/init", "--"}, args...)
	}
	return args, nil
}

// environment builds PID 1's environment as nspawn does, then applies
// Environment= overrides in order.
func (cv *converter) environment(u passwdEntry) []string {
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"container=" + cv.o.ContainerName,
	}
	if cv.o.LookupEnv != nil {
		if t, ok := cv.o.LookupEnv("TERM"); ok && t != "" {
			env = append(env, "TERM="+t)
		}
	}
	// nspawn always points PID 1 at /run/host/notify; hull run relays it.
	env = append(env, "HOME="+u.Home, "USER="+u.Name, "LOGNAME="+u.Name, "container_uuid="+cv.c.UUID,
		"NOTIFY_SOCKET=/run/host/notify")
	env = append(env, readOSReleaseIDs(cv.o.HostOSRelease)...)
	if !cv.s.Boot {
		env = append(env, "LANG=C.UTF-8")
	}
	if len(cv.s.Credentials) > 0 {
		env = append(env, "CREDENTIALS_DIRECTORY=/run/host/credentials")
	}
	for _, e := range cv.s.Environment {
		name, _, _ := strings.Cut(e, "=")
		env = slices.DeleteFunc(env, func(x string) bool { return strings.HasPrefix(x, name+"=") })
		env = append(env, e)
	}
	return env
}

// setupCapabilities applies nspawn's capability rules, then intersects with
// the runtime's bounding set (runc/crun fail where nspawn drops silently).
func (cv *converter) setupCapabilities() error {
	s := cv.s
	caps := slices.Clone(NspawnCapabilities)
	if cv.privNet {
		caps = append(caps, "CAP_NET_ADMIN")
	}
	if cv.userns && cv.uidBase != 0 && !cv.privNet {
		caps = slices.DeleteFunc(caps, func(c string) bool { return c == "CAP_NET_BIND_SERVICE" })
	}
	for _, c := range s.Capability {
		if c == "all" {
			caps = slices.Clone(AllCapabilities)
			break
		}
		if !slices.Contains(caps, c) {
			caps = append(caps, c)
		}
	}
	for _, c := range s.DropCapability {
		if c == "all" {
			caps = nil
			break
		}
		caps = slices.DeleteFunc(caps, func(x string) bool { return x == c })
	}
	if s.Boot && (!slices.Contains(caps, "CAP_SYS_ADMIN") || !slices.Contains(caps, "CAP_MKNOD")) {
		cv.warn("Boot= without CAP_SYS_ADMIN or CAP_MKNOD: systemd boots degraded (PrivateTmp= etc. off)")
	}
	caps = cv.intersectBounding(caps, "capabilities")
	ambient := cv.intersectBounding(slices.Clone(s.AmbientCapability), "ambient capabilities")
	for _, a := range ambient {
		if !slices.Contains(caps, a) {
			return &RefusedError{Key: "AmbientCapability=" + a, Reason: "not in the container's bounding set"}
		}
	}
	pc := &specs.LinuxCapabilities{Bounding: caps, Ambient: ambient, Inheritable: ambient}
	if cv.spec.Process.User.UID == 0 {
		pc.Effective, pc.Permitted = slices.Clone(caps), slices.Clone(caps)
	} else {
		pc.Effective, pc.Permitted = slices.Clone(ambient), slices.Clone(ambient)
	}
	cv.spec.Process.Capabilities = pc
	return nil
}

func (cv *converter) intersectBounding(caps []string, what string) []string {
	if cv.o.BoundingSet == nil {
		return caps
	}
	var dropped []string
	caps = slices.DeleteFunc(caps, func(c string) bool {
		if slices.Contains(cv.o.BoundingSet, c) {
			return false
		}
		dropped = append(dropped, c)
		return true
	})
	if len(dropped) > 0 {
		cv.warn("%s not in the host bounding set, dropped: %s", what, strings.Join(dropped, " "))
	}
	return caps
}

// HostBoundingSet reads the calling process's capability bounding set, for
// Options.BoundingSet.
func HostBoundingSet() ([]string, error) {
	var out []string
	for i, name := range AllCapabilities {
		r, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(i), 0, 0, 0)
		if err == unix.EINVAL {
			break // capability unknown to this kernel
		}
		if err != nil {
			return nil, fmt.Errorf("prctl(PR_CAPBSET_READ, %s): %w", name, err)
		}
		if r == 1 {
			out = append(out, name)
		}
	}
	return out, nil
}
