package nspawnconv

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The container ids BindUser= hands out (systemd's "container" range of
// UIDS-GIDS.md, as nspawn allocates them).
const (
	bindUserFirstID = 60514
	bindUserLastID  = 60577
)

// HostUser is the host account BindUser= binds into a machine.
type HostUser struct {
	Name, Group string // user name and the name of its primary group
	UID, GID    uint32
	Home        string
	// HashedPassword is the crypt(3) hash from the host's shadow entry;
	// empty when the account is locked or has none.
	HashedPassword string
}

// boundUser is one BindUser= entry with its id inside the container.
type boundUser struct {
	host HostUser
	id   uint32 // uid and gid in the container
}

// userdbService names the writer of the records, as nss-systemd shows it.
const userdbService = "org.hull.nspawn"

// setupBindUsers realises BindUser= as nspawn does: each host user gets a
// free container id from 60514…60577, its own line in the uid and gid maps
// (cut out of the main range), its home bound at /run/host/home/NAME and
// JSON user and group records in /run/host/userdb, which nss-systemd reads.
func (cv *converter) setupBindUsers() error {
	names := uniqueStrings(cv.s.BindUsers)
	if len(names) == 0 {
		return nil
	}
	if !cv.userns {
		return &RefusedError{Key: "BindUser=", Reason: "needs PrivateUsers= (as in nspawn)"}
	}
	if cv.o.BundleDir == "" {
		return &RefusedError{Key: "BindUser=", Reason: "needs a bundle directory for the user records"}
	}
	bound, err := cv.allocateBoundUsers(names)
	if err != nil {
		return err
	}
	cv.spec.Linux.UIDMappings = splitIDMap(cv.uidBase, cv.uidRange, bound, func(u HostUser) uint32 { return u.UID })
	cv.spec.Linux.GIDMappings = splitIDMap(cv.uidBase, cv.uidRange, bound, func(u HostUser) uint32 { return u.GID })
	for _, b := range bound {
		if err := cv.writeUserRecords(b); err != nil {
			return err
		}
		home := "/run/host/home/" + b.host.Name
		// The mount point must exist in the read-only /run/host.
		cv.pre(PreStep{Action: ActionMkdir, Path: cv.bundlePath("run-host/home/" + b.host.Name), Mode: 0o755, Key: "BindUser=" + b.host.Name})
		cv.spec.Mounts = append(cv.spec.Mounts, specs.Mount{Destination: home, Type: "bind", Source: b.host.Home, Options: []string{"rbind"}})
	}
	return nil
}

func uniqueStrings(list []string) []string {
	var out []string
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// allocateBoundUsers resolves the host users and gives each the next
// container id that the image's /etc/passwd and /etc/group leave free.
func (cv *converter) allocateBoundUsers(names []string) ([]boundUser, error) {
	var bound []boundUser
	next := uint32(bindUserFirstID)
	for _, name := range names {
		key := "BindUser=" + name
		u, err := cv.o.LookupUser(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		if err := cv.checkBindable(u, bound); err != nil {
			return nil, &RefusedError{Key: key, Reason: err.Error()}
		}
		id, err := cv.freeContainerID(next)
		if err != nil {
			return nil, &RefusedError{Key: key, Reason: err.Error()}
		}
		bound = append(bound, boundUser{host: u, id: id})
		next = id + 1
	}
	return bound, nil
}

// checkBindable applies nspawn's rules to one host user.
func (cv *converter) checkBindable(u HostUser, bound []boundUser) error {
	inRange := func(id uint32) bool { return id >= cv.uidBase && uint64(id) < uint64(cv.uidBase)+uint64(cv.uidRange) }
	switch {
	case u.UID == 0 || u.Name == "root":
		return errors.New("binding root is not supported (as in nspawn)")
	case u.UID == 65534 || u.Name == "nobody":
		return errors.New("binding nobody is not supported (as in nspawn)")
	case u.Name != u.Group:
		return fmt.Errorf("primary group %q is not the user's own group; only users with a private group can be bound (as in nspawn)", u.Group)
	case inRange(u.UID) || inRange(u.GID):
		return fmt.Errorf("host uid %d / gid %d lies inside the container's range %d:%d", u.UID, u.GID, cv.uidBase, cv.uidRange)
	case !filepath.IsAbs(u.Home):
		return fmt.Errorf("home directory %q is not absolute", u.Home)
	}
	for _, b := range bound {
		if b.host.UID == u.UID || b.host.GID == u.GID {
			return fmt.Errorf("uid %d / gid %d is already bound as %s", u.UID, u.GID, b.host.Name)
		}
	}
	taken, err := cv.imageHasAccount(u.Name, u.Group)
	if err != nil {
		return err
	}
	if taken != "" {
		return fmt.Errorf("%s already exists in the image", taken)
	}
	return nil
}

// imageHasAccount names the image's /etc/passwd or /etc/group entry that a
// bound user would collide with, or returns "".
func (cv *converter) imageHasAccount(user, group string) (string, error) {
	found := ""
	match := func(file, name string) error {
		err := readColonFile(cv.imageRoot(), file, func(f []string) bool {
			if f[0] == name {
				found = fmt.Sprintf("%s %q (in %s)", map[string]string{"/etc/passwd": "user", "/etc/group": "group"}[file], name, file)
			}
			return found != ""
		})
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if err := match("/etc/passwd", user); err != nil || found != "" {
		return found, err
	}
	return found, match("/etc/group", group)
}

// freeContainerID returns the first id from start that neither the image's
// users nor its groups use, and that the container's range covers.
func (cv *converter) freeContainerID(start uint32) (uint32, error) {
	used := map[uint32]bool{}
	for _, file := range []string{"/etc/passwd", "/etc/group"} {
		err := readColonFile(cv.imageRoot(), file, func(f []string) bool {
			if len(f) > 2 {
				if id, err := strconv.ParseUint(f[2], 10, 32); err == nil {
					used[uint32(id)] = true
				}
			}
			return false
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, err
		}
	}
	for id := start; id <= bindUserLastID && id < cv.uidRange; id++ {
		if !used[id] {
			return id, nil
		}
	}
	return 0, fmt.Errorf("no free container id in %d…%d below the range size %d", bindUserFirstID, bindUserLastID, cv.uidRange)
}

// splitIDMap maps the container's range to base, except each bound
// user's container id, which maps to its host id.
func splitIDMap(base, size uint32, bound []boundUser, hostID func(HostUser) uint32) []specs.LinuxIDMapping {
	var m []specs.LinuxIDMapping
	next := uint32(0)
	for _, b := range bound { // ascending ids, as allocated
		if b.id > next {
			m = append(m, specs.LinuxIDMapping{ContainerID: next, HostID: base + next, Size: b.id - next})
		}
		m = append(m, specs.LinuxIDMapping{ContainerID: b.id, HostID: hostID(b.host), Size: 1})
		next = b.id + 1
	}
	if size > next {
		m = append(m, specs.LinuxIDMapping{ContainerID: next, HostID: base + next, Size: size - next})
	}
	return m
}

// userRecord and groupRecord are the JSON user and group records of
// systemd's USER_RECORD.md / GROUP_RECORD.md, reduced to what nspawn binds.
type userRecord struct {
	UserName      string `json:"userName"`
	UID           uint32 `json:"uid"`
	GID           uint32 `json:"gid"`
	HomeDirectory string `json:"homeDirectory"`
	Service       string `json:"service"`
}

type groupRecord struct {
	GroupName string `json:"groupName"`
	GID       uint32 `json:"gid"`
	Service   string `json:"service"`
}

// recordFile is one file of /run/host/userdb: NAME+suffix, also linked
// as ID+suffix.
type recordFile struct {
	suffix, name string
	record       any
	mode         uint32
}

type privilegedRecord struct {
	Privileged struct {
		HashedPassword []string `json:"hashedPassword"`
	} `json:"privileged"`
}

// writeUserRecords adds the pre-steps that write NAME.user, NAME.group
// (and NAME.user-privileged with the password hash, readable by the
// container's root only) plus the ID.* links nss-systemd looks up by
// number. They are owned by the container's root.
func (cv *converter) writeUserRecords(b boundUser) error {
	key := "BindUser=" + b.host.Name
	dir := cv.bundlePath("run-host/userdb")
	cv.pre(PreStep{Action: ActionMkdir, Path: dir, Mode: 0o755, Key: key})
	files := []recordFile{
		{".user", b.host.Name, userRecord{b.host.Name, b.id, b.id, "/run/host/home/" + b.host.Name, userdbService}, 0o644},
		{".group", b.host.Group, groupRecord{b.host.Group, b.id, userdbService}, 0o644},
	}
	if b.host.HashedPassword != "" {
		var p privilegedRecord
		p.Privileged.HashedPassword = []string{b.host.HashedPassword}
		files = append(files, recordFile{".user-privileged", b.host.Name, p, 0o600})
	}
	id := strconv.FormatUint(uint64(b.id), 10)
	for _, f := range files {
		data, err := json.Marshal(f.record)
		if err != nil {
			return fmt.Errorf("%s: encode %s record: %w", key, f.suffix, err)
		}
		name := f.name + f.suffix
		cv.pre(PreStep{Action: ActionWriteFile, Path: filepath.Join(dir, name), Data: string(data) + "\n", Mode: f.mode, Owner: cv.uidBase, Key: key})
		cv.pre(PreStep{Action: ActionSymlink, Path: filepath.Join(dir, id+f.suffix), Source: name, Owner: cv.uidBase, Key: key})
	}
	return nil
}
