package nspawnconv

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// LookupHostUser resolves a host account through NSS (as nspawn asks
// userdb), so directory users bind as well as local ones; the password
// hash comes from /etc/shadow when the account has a usable one.
func LookupHostUser(name string) (HostUser, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return HostUser{}, fmt.Errorf("look up on the host: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return HostUser{}, fmt.Errorf("host user %s: %w", name, err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return HostUser{}, fmt.Errorf("primary group of host user %s: %w", name, err)
	}
	hash, err := shadowHash("/etc/shadow", u.Username)
	if err != nil {
		return HostUser{}, err
	}
	return HostUser{Name: u.Username, Group: g.Name, UID: uint32(uid), GID: uint32(gid), Home: u.HomeDir, HashedPassword: hash}, nil
}

// shadowHash returns name's password hash from a shadow file, or "" when
// the file or entry is missing or the account is locked or passwordless.
func shadowHash(path, name string) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 2 || fields[0] != name {
			continue
		}
		if usableHash(fields[1]) {
			return fields[1], nil
		}
		return "", nil
	}
	return "", sc.Err()
}

// usableHash: a crypt(3) string, not a lock marker ("!", "*", "!$y$…").
func usableHash(h string) bool {
	return strings.HasPrefix(h, "$") && !strings.ContainsAny(h, ": \t")
}
