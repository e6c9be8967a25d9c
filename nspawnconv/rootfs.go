package nspawnconv

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// resolveInRoot maps a container path to a host path under root, following
// symlinks as the container would see them (absolute links restart at root),
// so an image's /sbin/init -> /lib/systemd/systemd never escapes to the host.
func resolveInRoot(root, p string) (string, error) {
	todo := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	cur := "/"
	for hops := 0; len(todo) > 0; {
		comp := todo[0]
		todo = todo[1:]
		if comp == "" || comp == "." {
			continue
		}
		if comp == ".." {
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, comp)
		st, err := os.Lstat(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("too many symlinks resolving %s in %s", p, root)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		todo = append(strings.Split(strings.Trim(target, "/"), "/"), todo...)
	}
	return filepath.Join(root, cur), nil
}

// isExecutableInRoot reports whether container path p is an executable
// regular file inside root.
func isExecutableInRoot(root, p string) bool {
	hp, err := resolveInRoot(root, p)
	if err != nil {
		return false
	}
	st, err := os.Stat(hp)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

// imageMachineID returns the machine ID stored in the image, or "" when it
// is missing, empty or "uninitialized" (nspawn's setup_machine_id()).
func imageMachineID(root string) string {
	hp, err := resolveInRoot(root, "/etc/machine-id")
	if err != nil {
		return ""
	}
	b, err := os.ReadFile(hp)
	if err != nil {
		return ""
	}
	id, err := normUUID(strings.TrimSpace(string(b)))
	if err != nil {
		return ""
	}
	return id
}

type passwdEntry struct {
	Name     string
	UID, GID uint32
	Home     string
}

// lookupUser resolves a user name or number in the image's /etc/passwd and
// collects its supplementary groups from /etc/group.
func lookupUser(root, user string) (passwdEntry, []uint32, error) {
	var found *passwdEntry
	err := readColonFile(root, "/etc/passwd", func(f []string) bool {
		if len(f) < 7 || (f[0] != user && f[2] != user) {
			return false
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			return false
		}
		found = &passwdEntry{Name: f[0], UID: uint32(uid), GID: uint32(gid), Home: f[5]}
		return true
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return passwdEntry{}, nil, err
	}
	if found == nil {
		n, perr := strconv.ParseUint(user, 10, 32)
		if perr != nil {
			return passwdEntry{}, nil, fmt.Errorf("user %q not found in the image's /etc/passwd", user)
		}
		return passwdEntry{Name: user, UID: uint32(n), GID: uint32(n), Home: "/"}, nil, nil
	}
	var groups []uint32
	err = readColonFile(root, "/etc/group", func(f []string) bool {
		if len(f) < 4 {
			return false
		}
		for _, m := range strings.Split(f[3], ",") {
			if m == found.Name {
				if gid, err := strconv.ParseUint(f[2], 10, 32); err == nil && uint32(gid) != found.GID {
					groups = append(groups, uint32(gid))
				}
			}
		}
		return false
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return passwdEntry{}, nil, err
	}
	return *found, groups, nil
}

// readColonFile calls fn for each colon-separated line until it returns true.
func readColonFile(root, p string, fn func([]string) bool) error {
	hp, err := resolveInRoot(root, p)
	if err != nil {
		return err
	}
	f, err := os.Open(hp)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if fn(strings.Split(line, ":")) {
			return nil
		}
	}
	return sc.Err()
}

// readOSReleaseIDs returns the container_host_<key>= entries nspawn passes
// (the ID-like fields of the host's os-release).
func readOSReleaseIDs(p string) []string {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	keys := map[string]bool{"ID": true, "VERSION_ID": true, "BUILD_ID": true, "VARIANT_ID": true, "IMAGE_ID": true, "IMAGE_VERSION": true}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || !keys[k] {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		} else {
			v = strings.Trim(v, `'"`)
		}
		out = append(out, "container_host_"+strings.ToLower(k)+"="+v)
	}
	return out
}
