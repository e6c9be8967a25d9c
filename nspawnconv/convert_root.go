package nspawnconv

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setupRoot picks root.path: the image, a pivot-root sub-directory, or a
// pre-step overlay/tmpfs for Ephemeral= and Volatile=.
func (cv *converter) setupRoot() error {
	s, o := cv.s, cv.o
	root := o.Rootfs
	if root == "" {
		root = s.Directory
	}
	if root == "" {
		return &RefusedError{Key: "--directory", Reason: "no root directory given"}
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("root directory %s: %w", root, err)
	}
	cv.root = abs
	if s.Template != "" {
		cv.pre(PreStep{Action: ActionCopyTree, Path: abs, Source: s.Template, Key: "--template"})
	} else if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return fmt.Errorf("root directory %s: not a directory (%v)", abs, err)
	}
	image := abs
	if s.PivotRoot != "" {
		image = filepath.Join(abs, s.PivotRoot)
		if s.PivotRootOld != "" {
			cv.spec.Mounts = append(cv.spec.Mounts, specs.Mount{Destination: s.PivotRootOld, Type: "bind", Source: abs, Options: []string{"rbind"}})
		}
	}
	cv.finalRoot = image
	cv.spec.Root.Path = image
	cv.spec.Root.Readonly = s.ReadOnly
	needBundle := func(key string) error {
		if o.BundleDir == "" || !filepath.IsAbs(o.BundleDir) {
			return &RefusedError{Key: key, Reason: "needs an absolute bundle directory for its pre-steps"}
		}
		return nil
	}
	switch {
	case s.Ephemeral:
		if err := needBundle("Ephemeral="); err != nil {
			return err
		}
		cv.overlayRoot(image, "ephemeral", false, "Ephemeral=")
	case s.Volatile == "overlay":
		if err := needBundle("Volatile=overlay"); err != nil {
			return err
		}
		cv.overlayRoot(image, "volatile", true, "Volatile=overlay")
	case s.Volatile == "yes":
		if err := needBundle("Volatile=yes"); err != nil {
			return err
		}
		dir := filepath.Join(o.BundleDir, "volatile-root")
		cv.pre(PreStep{Action: ActionMountTmpfs, Path: dir, Options: []string{"mode=755", "size=25%", "nr_inodes=1m"}, Key: "Volatile=yes"})
		cv.pre(PreStep{Action: ActionMkdir, Path: filepath.Join(dir, "usr"), Mode: 0o755, Key: "Volatile=yes"})
		cv.hook("poststop", "umount", "Volatile=yes", dir)
		cv.spec.Root.Path, cv.finalRoot = dir, dir
		cv.spec.Mounts = append(cv.spec.Mounts, specs.Mount{Destination: "/usr", Type: "bind", Source: filepath.Join(image, "usr"), Options: []string{"rbind", "ro"}})
	case s.Volatile == "state":
		cv.spec.Root.Readonly = true
	}
	return nil
}

// overlayRoot stacks a throw-away upper dir on the image (on tmpfs for
// Volatile=overlay, on the bundle's disk for Ephemeral=).
func (cv *converter) overlayRoot(image, name string, onTmpfs bool, key string) {
	dir := filepath.Join(cv.o.BundleDir, name)
	if onTmpfs {
		cv.pre(PreStep{Action: ActionMountTmpfs, Path: dir, Options: []string{"mode=755"}, Key: key})
	}
	upper, work, merged := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")
	for _, d := range []string{upper, work, merged} {
		cv.pre(PreStep{Action: ActionMkdir, Path: d, Mode: 0o755, Key: key})
	}
	cv.pre(PreStep{Action: ActionMountOverlay, Path: merged, Key: key,
		Options: []string{"lowerdir=" + image, "upperdir=" + upper, "workdir=" + work}})
	cv.hook("poststop", "umount", key, merged)
	if onTmpfs {
		cv.hook("poststop", "umount", key, dir)
	} else {
		cv.hook("poststop", "remove-tree", key, dir)
	}
	cv.spec.Root.Path, cv.finalRoot = merged, merged
}

// setupIdentity fixes the machine name, hostname and container UUID.
func (cv *converter) setupIdentity() error {
	s := cv.s
	name := s.Machine
	if name == "" {
		name = filepath.Base(cv.root)
		if err := parseHostname(&Settings{}, name, nil); err != nil {
			return &RefusedError{Key: "--machine", Reason: fmt.Sprintf("directory name %q is not a valid machine name; pass --machine", name)}
		}
	}
	if s.Ephemeral {
		name += "-" + strings.ReplaceAll(cv.o.NewUUID(), "-", "")[:16]
	}
	cv.c.MachineName = name
	cv.spec.Hostname = name
	if s.Hostname != "" {
		cv.spec.Hostname = s.Hostname
	}
	id := imageMachineID(cv.root)
	switch {
	case id != "":
	case s.MachineID != "":
		id = s.MachineID
	default:
		var err error
		if id, err = normUUID(cv.o.NewUUID()); err != nil {
			return fmt.Errorf("generated UUID: %w", err)
		}
	}
	cv.c.UUID = id
	return nil
}

// setupUserNS computes the uid/gid range for PrivateUsers=.
func (cv *converter) setupUserNS() error {
	pu := cv.s.PrivateUsers
	cv.privNet = cv.s.PrivateNetworkImplied()
	if cv.o.Rootless != nil {
		return cv.setupRootlessUserNS()
	}
	if pu.Mode == "" || pu.Mode == UserNSOff {
		return nil
	}
	owner, ownerGID, err := ownerIDs(cv.treeRoot())
	if err != nil && pu.Mode != UserNSFixed && pu.Mode != UserNSIdentity {
		return fmt.Errorf("PrivateUsers=%s: %w", pu.Mode, err)
	}
	base, rng := pu.Base, pu.Range
	switch pu.Mode {
	case UserNSOwner:
		if owner%65536 != 0 {
			return &RefusedError{Key: "PrivateUsers=yes", Reason: fmt.Sprintf("root directory owner %d is not a multiple of 65536", owner)}
		}
		base = owner
	case UserNSPick:
		if base, err = cv.pickUIDBase(owner, ownerGID); err != nil {
			return err
		}
	}
	cv.userns, cv.uidBase, cv.uidRange = true, base, rng
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: base, Size: rng}}
	cv.spec.Linux.UIDMappings, cv.spec.Linux.GIDMappings = m, m
	own := cv.s.PrivateUsersOwnership
	if own == "" && pu.Mode == UserNSPick {
		own = "auto"
	}
	if (own == "chown" || own == "auto") && owner&0xffff0000 != base {
		cv.pre(PreStep{Action: ActionChownTree, Path: cv.root, UIDShift: base, Key: "PrivateUsersOwnership=" + own})
	}
	cv.hook("createRuntime", "chown-cgroup", "PrivateUsers=", strconv.FormatUint(uint64(base), 10))
	if !cv.privNet && base != 0 {
		cv.warn("PrivateUsers= without a private network: sysfs is bound from the host and CAP_NET_BIND_SERVICE is dropped (as nspawn)")
	}
	return nil
}

// setupRootlessUserNS maps an unprivileged caller's machine as rootless
// podman does: the machine's root is the caller (who owns the tree, so no
// chown), ids 1…65535 are the caller's subordinate ranges (written by
// newuidmap). Without -U there would be no user namespace, which an
// unprivileged caller cannot do without.
func (cv *converter) setupRootlessUserNS() error {
	pu, r := cv.s.PrivateUsers, cv.o.Rootless
	switch pu.Mode {
	case "", UserNSOff:
		return &RefusedError{Key: "PrivateUsers=no", Reason: "an unprivileged machine needs a user namespace: pass -U (--private-users=pick)"}
	case UserNSFixed, UserNSIdentity:
		return &RefusedError{Key: "PrivateUsers=" + string(pu.Mode), Reason: "a fixed id range is not the caller's to map; unprivileged, -U maps root to the caller and 1…65535 to its /etc/subuid range"}
	}
	if cv.s.PrivateUsersOwnership == "chown" || cv.s.PrivateUsersOwnership == "map" {
		return &RefusedError{Key: "PrivateUsersOwnership=" + cv.s.PrivateUsersOwnership, Reason: "an unprivileged caller cannot change the tree's owners; its own files are the machine's root's"}
	}
	n := uint32(65535)
	if r.SubUIDN < n || r.SubGIDN < n {
		return fmt.Errorf("-U unprivileged: /etc/subuid and /etc/subgid must give this user 65535 ids (have %d and %d)", r.SubUIDN, r.SubGIDN)
	}
	cv.userns, cv.uidBase, cv.uidRange = true, r.UID, 65536
	cv.spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: r.UID, Size: 1}, {ContainerID: 1, HostID: r.SubUID, Size: n}}
	cv.spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: r.GID, Size: 1}, {ContainerID: 1, HostID: r.SubGID, Size: n}}
	if !cv.privNet {
		cv.warn("unprivileged -U without a private network: sysfs is bound from the host and CAP_NET_BIND_SERVICE is dropped (as nspawn)")
	}
	return nil
}

// ownerIDs returns the owning uid and gid of p.
func ownerIDs(p string) (uid, gid uint32, err error) {
	st, err := os.Stat(p)
	if err != nil {
		return 0, 0, err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, fmt.Errorf("stat %s: no owner information", p)
	}
	return sys.Uid, sys.Gid, nil
}

// nspawn's UID_SHIFT_PICK_MIN and UID_SHIFT_PICK_MAX (systemd 252).
const pickMin, pickMax = 0x80000, 0x6FFF0000

// pickUIDBase is nspawn 252's determine_uid_shift() plus uid_shift_pick():
// the tree owner's 64K range is only the first candidate, and like every
// later one it must lie in 0x80000…0x6FFF0000, be 64K-aligned and be unused
// (Options.UIDRangeInUse); then the machine name's hash, then further hashes
// (nspawn draws random ones), 100 tries in all.
func (cv *converter) pickUIDBase(owner, ownerGID uint32) (uint32, error) {
	cand := owner & 0xffff0000
	if cand != ownerGID&0xffff0000 {
		return 0, &RefusedError{Key: "PrivateUsers=pick", Reason: fmt.Sprintf("uid and gid base of the root directory (%d, %d) do not match (as in nspawn)", owner, ownerGID)}
	}
	// Every candidate is 64K-aligned: the owner's masked, the hashes so made.
	for try := 0; try < 99; try++ {
		if cand >= pickMin && cand <= pickMax && !cv.o.UIDRangeInUse(cand) {
			if cand != owner&0xffff0000 {
				cv.warn("PrivateUsers=pick: range %d:65536 hashed from the machine name (the root directory's range %d is not usable)", cand, owner&0xffff0000)
			}
			return cand, nil
		}
		cand = hashUIDBase(cv.c.MachineName, try)
	}
	return 0, &RefusedError{Key: "PrivateUsers=pick", Reason: "no free 64K id range found in 100 tries (as nspawn's uid_shift_pick)"}
}

// hashUIDBase hashes the machine name (and the attempt after the first)
// into nspawn's pick range, aligned to 65536.
func hashUIDBase(name string, try int) uint32 {
	h := fnv.New64a()
	h.Write([]byte(name))
	if try > 0 {
		fmt.Fprintf(h, "#%d", try)
	}
	slots := uint64(pickMax-pickMin) / 65536
	return uint32(pickMin + (h.Sum64()%slots)*65536)
}

// hostUIDRangeInUse makes nspawn's checks that a 64K range is free: no
// systemd-nspawn holds its lock file /run/systemd/nspawn-uid/BASE, and
// the user and group databases know neither BASE nor BASE+0xFFFE.
func hostUIDRangeInUse(base uint32) bool {
	if nspawnLockHeld(fmt.Sprintf("/run/systemd/nspawn-uid/%d", base)) {
		return true
	}
	for _, id := range []string{strconv.FormatUint(uint64(base), 10), strconv.FormatUint(uint64(base)+0xFFFE, 10)} {
		if _, err := user.LookupId(id); err == nil {
			return true
		}
		if _, err := user.LookupGroupId(id); err == nil {
			return true
		}
	}
	return false
}

// nspawnLockHeld reports whether another process holds the lock file
// systemd-nspawn takes on the range it picked (make_lock_file, flock).
func nspawnLockHeld(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return errors.Is(err, unix.EWOULDBLOCK)
	}
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}
