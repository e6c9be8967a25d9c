package nspawnconv

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/nspawnconv/syscontainer"
	"github.com/hull-runtime/hull/nspawnconv/sysfilter"
)

// hostSource resolves a Bind=/Overlay= path: "+" means inside the image.
func (cv *converter) hostSource(p string) string {
	if rest, ok := strings.CutPrefix(p, "+"); ok {
		return filepath.Join(cv.imageRoot(), rest)
	}
	return p
}

func (cv *converter) tempDir(key, name string) string {
	dir := cv.bundlePath(name)
	cv.pre(PreStep{Action: ActionMkdir, Path: dir, Mode: 0o755, Key: key})
	cv.hook("poststop", "remove-tree", key, dir)
	return dir
}

// Kinds of custom mount, in nspawn's CustomMountType order: the tie-break
// of custom_mount_compare for one destination.
const (
	customBind = iota
	customTmpfs
	customOverlay
)

type customMount struct {
	kind  int
	mount specs.Mount
}

// setupCustomMounts adds Bind=, TemporaryFileSystem= and Overlay= mounts in
// nspawn's order (custom_mount_compare): by destination with path_compare,
// then by kind; so "/srv/ro" bound read-only after "/srv" stays on top
// whatever order the settings came in.
func (cv *converter) setupCustomMounts() error {
	var ms []customMount
	for i, b := range cv.s.Binds {
		m, err := cv.bindMount(i, b)
		if err != nil {
			return err
		}
		ms = append(ms, customMount{customBind, m})
	}
	for _, t := range cv.s.TmpFS {
		opts := []string{"mode=0755"}
		if t.Options != "" {
			opts = strings.Split(t.Options, ",")
		}
		ms = append(ms, customMount{customTmpfs, tmpfsMount(t.Path, "tmpfs", append(opts, "nodev", "strictatime")...)})
	}
	for i, o := range cv.s.Overlays {
		ms = append(ms, customMount{customOverlay, cv.overlayMount(i, o)})
	}
	slices.SortStableFunc(ms, func(a, b customMount) int {
		if c := pathCompare(a.mount.Destination, b.mount.Destination); c != 0 {
			return c
		}
		return a.kind - b.kind
	})
	for _, m := range ms {
		cv.spec.Mounts = append(cv.spec.Mounts, m.mount)
	}
	return nil
}

// pathCompare orders paths as systemd's path_compare(): component by
// component ignoring repeated slashes and "." components, a prefix before
// the paths below it ("/srv" < "/srv/ro"), components bytewise and a shorter
// component first when one is a prefix of the other.
func pathCompare(a, b string) int {
	ca, cb := pathComponents(a), pathComponents(b)
	for i := 0; i < len(ca) && i < len(cb); i++ {
		if c := strings.Compare(ca[i], cb[i]); c != 0 {
			return c
		}
	}
	return len(ca) - len(cb)
}

func pathComponents(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

func (cv *converter) bindMount(i int, b BindMount) (specs.Mount, error) {
	key := "Bind="
	if b.ReadOnly {
		key = "BindReadOnly="
	}
	src := cv.hostSource(b.Source)
	if b.Source == "" {
		src = cv.tempDir(key, fmt.Sprintf("binds/%d", i))
	}
	m := specs.Mount{Destination: b.Dest, Type: "bind", Source: src, Options: []string{"rbind"}}
	if !b.Recursive {
		m.Options[0] = "bind"
	}
	if b.ReadOnly {
		// nspawn remounts the whole tree read-only (bind_remount_recursive):
		// "rro" (mount_setattr AT_RECURSIVE) makes the source's submounts
		// read-only too; "ro" alone would leave them writable.
		m.Options = append(m.Options, "ro")
		if b.Recursive {
			m.Options = append(m.Options, "rro")
		}
	}
	if b.IDMap == "" {
		return m, nil
	}
	if !cv.userns {
		return m, &RefusedError{Key: key + b.Source + ":" + b.Dest + ":" + b.IDMap, Reason: "idmapped binds need PrivateUsers="}
	}
	return cv.idmapBind(key, b, m)
}

// idmapBind adds the mount's id mapping. rootidmap is nspawn 252's
// make_userns() for REMOUNT_IDMAPPING_HOST_OWNER: one line "OWNER SHIFT 1",
// written as both uid_map and gid_map, so the owner's uid (also read as a
// gid) becomes root and every other id, the owning group too, stays
// unmapped ("the group owning the bind mounted directory will have no
// effect", systemd-nspawn(1)).
func (cv *converter) idmapBind(key string, b BindMount, m specs.Mount) (specs.Mount, error) {
	m.Options = append(m.Options, map[bool]string{true: "ridmap", false: "idmap"}[b.Recursive])
	mp := []specs.LinuxIDMapping{{ContainerID: 0, HostID: cv.uidBase, Size: cv.uidRange}}
	if b.IDMap == "rootidmap" {
		uid, _, err := ownerIDs(m.Source)
		if err != nil {
			return m, fmt.Errorf("%s%s:%s:rootidmap: source %s: %w", key, b.Source, b.Dest, m.Source, err)
		}
		mp = []specs.LinuxIDMapping{{ContainerID: uid, HostID: cv.uidBase, Size: 1}}
	}
	m.UIDMappings, m.GIDMappings = mp, slices.Clone(mp)
	return m, nil
}

// overlayMount builds Overlay=/OverlayReadOnly=; every path is escaped as
// nspawn's mount_overlay() does (shell_escape(",:")), so a ':' or ',' in a
// directory name stays part of it.
func (cv *converter) overlayMount(i int, o OverlayMount) specs.Mount {
	key := "Overlay="
	if o.ReadOnly {
		key = "OverlayReadOnly="
	}
	layers := make([]string, len(o.Layers))
	for j, l := range o.Layers {
		layers[j] = cv.hostSource(l)
	}
	m := specs.Mount{Destination: o.Dest, Type: "overlay", Source: "overlay"}
	if o.ReadOnly {
		m.Options = []string{"lowerdir=" + joinLowers(layers), "ro"}
		return m
	}
	upper := layers[len(layers)-1]
	var work string
	if o.Layers[len(o.Layers)-1] == "" {
		dir := fmt.Sprintf("overlays/%d", i)
		upper = cv.tempDir(key, dir+"/upper")
		work = cv.tempDir(key, dir+"/work")
	} else {
		// overlayfs needs workdir on the upper's file system: a hidden sibling.
		work = filepath.Join(filepath.Dir(upper), ".#"+filepath.Base(upper)+".hull-work")
		cv.pre(PreStep{Action: ActionMkdir, Path: work, Mode: 0o700, Key: key})
		cv.hook("poststop", "remove-tree", key, work)
	}
	m.Options = []string{"lowerdir=" + joinLowers(layers[:len(layers)-1]), "upperdir=" + overlayEscape(upper), "workdir=" + overlayEscape(work)}
	return m
}

// joinLowers lists layers (bottom first) as lowerdir= wants them, top first.
func joinLowers(layers []string) string {
	l := make([]string, len(layers))
	for i, p := range layers {
		l[len(layers)-1-i] = overlayEscape(p)
	}
	return strings.Join(l, ":")
}

var resolvSources = map[string]string{
	"static": "/usr/lib/systemd/resolv.conf",
	"uplink": "/run/systemd/resolve/resolv.conf",
	"stub":   "/run/systemd/resolve/stub-resolv.conf",
}

// autoResolvConf is nspawn's ResolvConf=auto: off with a private network;
// resolved's static stub file when resolved listens on the host; else the
// host's file; else delete the image's (off on a read-only root). Bound on a
// read-only root, copied otherwise.
func (cv *converter) autoResolvConf(hostFile string) string {
	how := "copy-"
	if !cv.rootWritable() {
		how = "bind-"
	}
	switch {
	case cv.privNet:
		return "off"
	case fileExists(cv.o.StaticResolvConf) && cv.o.ResolvedListening():
		return how + "static"
	case fileExists(hostFile):
		return how + "host"
	case cv.rootWritable():
		return "delete"
	}
	return "off"
}

// resolvedStubListening reports whether a UDP socket is bound to
// 127.0.0.53:53 on the host, where resolved's stub listener
// (DNSStubListener=yes or udp) runs.
func resolvedStubListening() bool {
	data, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(data), "\n")[1:] {
		if f := strings.Fields(l); len(f) > 1 && f[1] == "3500007F:0035" {
			return true
		}
	}
	return false
}

// rootWritable reports whether the image is modified in place or through
// a writable overlay (nspawn copies then, else it binds).
func (cv *converter) rootWritable() bool {
	return !cv.spec.Root.Readonly
}

func (cv *converter) setupResolvConf() error {
	mode := cv.s.ResolvConf
	hostFile := filepath.Join(cv.o.HostEtc, "resolv.conf")
	if mode == "" || mode == "auto" {
		mode = cv.autoResolvConf(hostFile)
	}
	if mode == "off" {
		return nil
	}
	target := filepath.Join(cv.finalRoot, "etc/resolv.conf")
	key := "ResolvConf=" + mode
	if mode == "delete" {
		cv.pre(PreStep{Action: ActionRemove, Path: target, Key: key})
		return nil
	}
	how, which, _ := strings.Cut(mode, "-")
	src := hostFile
	switch which {
	case "static":
		src = cv.o.StaticResolvConf
	case "host":
	default:
		src = resolvSources[which]
	}
	switch how {
	case "bind":
		cv.spec.Mounts = append(cv.spec.Mounts, specs.Mount{Destination: "/etc/resolv.conf", Type: "bind", Source: src, Options: []string{"bind", "ro", "nosuid", "nodev"}})
	case "copy", "replace":
		cv.pre(PreStep{Action: ActionCopyFile, Path: target, Source: src, Mode: 0o644, Replace: how == "replace", Key: key})
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (cv *converter) setupTimezone() error {
	mode := cv.s.Timezone
	host := filepath.Join(cv.o.HostEtc, "localtime")
	zone := ""
	if t, err := os.Readlink(host); err == nil {
		if _, z, ok := strings.Cut(t, "zoneinfo/"); ok {
			zone = z
		}
	}
	if mode == "" || mode == "auto" {
		switch st, err := os.Lstat(host); {
		case err != nil:
			mode = map[bool]string{true: "delete", false: "off"}[cv.rootWritable()]
		case st.Mode()&os.ModeSymlink != 0 && zone != "":
			mode = "symlink"
		default:
			mode = "copy"
		}
	}
	if !cv.rootWritable() && mode != "off" && mode != "bind" {
		mode = "bind" // nspawn binds when /etc is read-only
	}
	if mode == "symlink" && (zone == "" || !fileExists(filepath.Join(cv.imageRoot(), "usr/share/zoneinfo", zone))) {
		mode = "copy" // nspawn falls back when the zone is missing in the image
	}
	target := filepath.Join(cv.finalRoot, "etc/localtime")
	key := "Timezone=" + mode
	switch mode {
	case "bind":
		cv.spec.Mounts = append(cv.spec.Mounts, specs.Mount{Destination: "/etc/localtime", Type: "bind", Source: host, Options: []string{"bind", "ro", "nosuid", "nodev"}})
	case "copy":
		cv.pre(PreStep{Action: ActionCopyFile, Path: target, Source: host, Mode: 0o644, Replace: true, Key: key})
	case "symlink":
		cv.pre(PreStep{Action: ActionSymlink, Path: target, Source: "../usr/share/zoneinfo/" + zone, Key: key})
	case "delete":
		cv.pre(PreStep{Action: ActionRemove, Path: target, Key: key})
	}
	return nil
}

func (cv *converter) setupJournal() error {
	mode := cv.s.LinkJournal
	id := strings.ReplaceAll(cv.c.UUID, "-", "")
	hostDir := filepath.Join(cv.o.HostJournalDir, id)
	dst := "/var/log/journal/" + id
	try := strings.HasPrefix(mode, "try-")
	if try && (!fileExists(cv.o.HostJournalDir) || cv.s.Ephemeral) {
		return nil // try-*: no persistent host journal, or an ephemeral machine
	}
	bind := specs.Mount{Destination: dst, Type: "bind", Source: hostDir, Options: []string{"rbind", "rw"}}
	switch strings.TrimPrefix(mode, "try-") {
	case "", "auto":
		if st, err := os.Stat(hostDir); err == nil && st.IsDir() {
			cv.spec.Mounts = append(cv.spec.Mounts, bind)
		}
	case "host":
		cv.pre(PreStep{Action: ActionMkdir, Path: hostDir, Mode: 0o2755, Replace: true, Key: "LinkJournal=" + mode})
		cv.spec.Mounts = append(cv.spec.Mounts, bind)
	case "guest":
		guestDir := filepath.Join(cv.finalRoot, dst)
		// Owned by the machine's root (under PrivateUsers= the host's root is
		// nobody inside), or journald in it cannot write there.
		cv.pre(PreStep{Action: ActionMkdir, Path: guestDir, Mode: 0o2755, Owner: cv.uidBase, Key: "LinkJournal=" + mode})
		cv.pre(PreStep{Action: ActionSymlink, Path: hostDir, Source: cv.givenPath(guestDir), Optional: try, Key: "LinkJournal=" + mode})
	}
	return nil
}

// givenPath names a path under the image root by the directory as given
// (-D) rather than where the caller made it reachable (Options.Rootfs, e.g.
// hull nspawn's bind for a 0700 /var/lib/machines), so that a link to it
// outlives the run, as nspawn's does. Paths elsewhere (an overlay) stay.
func (cv *converter) givenPath(p string) string {
	given, err := filepath.Abs(cv.s.Directory)
	rel, rerr := filepath.Rel(cv.root, p)
	if cv.s.Directory == "" || err != nil || rerr != nil || strings.HasPrefix(rel, "..") {
		return p
	}
	return filepath.Join(given, rel)
}

func (cv *converter) setupCredentials() error {
	if len(cv.s.Credentials) == 0 {
		return nil
	}
	if cv.o.BundleDir == "" {
		return &RefusedError{Key: "--load-credential/--set-credential", Reason: "needs a bundle directory for the credential files"}
	}
	dir := cv.bundlePath("credentials")
	// Owned by the container's root: with PrivateUsers= the host's root is
	// nobody inside, and 0700/0400 would lock the payload out.
	cv.pre(PreStep{Action: ActionMkdir, Path: dir, Mode: 0o700, Owner: cv.uidBase, Key: "--set-credential"})
	for _, c := range cv.s.Credentials {
		p := filepath.Join(dir, c.ID)
		if c.Load {
			cv.pre(PreStep{Action: ActionCopyFile, Path: p, Source: c.Path, Mode: 0o400, Replace: true, Owner: cv.uidBase, Key: "--load-credential=" + c.ID})
		} else {
			cv.pre(PreStep{Action: ActionWriteFile, Path: p, Data: c.Value, Mode: 0o400, Owner: cv.uidBase, Key: "--set-credential=" + c.ID})
		}
	}
	cv.spec.Mounts = append(cv.spec.Mounts, specs.Mount{Destination: "/run/host/credentials", Type: "bind", Source: dir, Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}})
	return nil
}

func (cv *converter) setupAnnotations() error {
	s := cv.s
	cv.annotate(syscontainer.AnnotationMachine, cv.c.MachineName)
	if s.Boot {
		cv.annotate(syscontainer.AnnotationBoot, "yes")
	}
	sig := s.KillSignal
	if sig == "" && s.Boot {
		sig = "SIGRTMIN+3"
	}
	if sig != "" {
		cv.annotate(syscontainer.AnnotationKillSignal, sig)
	}
	console := s.Console
	if console == "" {
		console = map[bool]string{true: "interactive", false: "read-only"}[cv.o.Interactive]
	}
	cv.annotate(syscontainer.AnnotationConsole, console)
	opt := map[string]string{syscontainer.AnnotationVolatile: s.Volatile, syscontainer.AnnotationPrivateUsersOwnership: s.PrivateUsersOwnership}
	if s.PrivateUsers.Mode != "" {
		opt[syscontainer.AnnotationPrivateUsers] = string(s.PrivateUsers.Mode)
	}
	for k, v := range opt {
		if v != "" {
			cv.annotate(k, v)
		}
	}
	flags := map[string]bool{
		syscontainer.AnnotationNotifyReady: s.NotifyReady, syscontainer.AnnotationEphemeral: s.Ephemeral,
		syscontainer.AnnotationAsPID2: s.ProcessTwo, syscontainer.AnnotationKeepUnit: s.KeepUnit,
	}
	for k, v := range flags {
		if v {
			cv.annotate(k, "yes")
		}
	}
	if s.Register != nil {
		cv.annotate(syscontainer.AnnotationRegister, strconv.FormatBool(*s.Register))
	}
	if len(cv.c.Annotations) > 0 {
		cv.spec.Annotations = cv.c.Annotations
	}
	return nil
}

// setupSeccomp writes nspawn's filter (sysfilter), decided by the
// machine's bounding set and SystemCallFilter=, so every runtime enforces it.
func (cv *converter) setupSeccomp() error {
	var caps []string
	if c := cv.spec.Process.Capabilities; c != nil {
		caps = c.Bounding
	}
	r := sysfilter.Resolve(sysfilter.Input{Caps: caps, Allow: cv.s.SyscallAllow, Deny: cv.s.SyscallDeny})
	for _, w := range r.Warnings {
		cv.warn("%s", w)
	}
	cv.spec.Linux.Seccomp = r.Seccomp(cv.s.SuppressSync)
	return nil
}
