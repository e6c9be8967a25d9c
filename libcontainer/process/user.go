package process

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// SetUser switches every thread of the process to u: supplementary groups
// (additionalGids alone, as runc and crun set them: the gid is not added),
// then gid, then uid, since changing the uid first would drop CAP_SETGID.
// Go's syscall wrappers apply each change to all threads (Go >= 1.16,
// through the C library's set*id in a cgo program); x/sys/unix's
// Setgroups would change the calling thread alone, so syscall's is used.
// Umask is separate: SetUmask. To keep capabilities
// across the change, call it through capabilities.ApplyWithUser.
//
// In a user namespace whose setgroups is "deny" (rootless), setgroups always
// fails; then it is skipped when u has no additionalGids, like runc.
func SetUser(u specs.User) error {
	groups := []int{}
	for _, g := range u.AdditionalGids {
		if !slices.Contains(groups, int(g)) {
			groups = append(groups, int(g))
		}
	}
	if err := syscall.Setgroups(groups); err != nil {
		if !errors.Is(err, unix.EPERM) || len(u.AdditionalGids) > 0 || !setgroupsDenied() {
			return fmt.Errorf("setgroups %v (process.user.additionalGids): %w", groups, err)
		}
	}
	if err := unix.Setresgid(int(u.GID), int(u.GID), int(u.GID)); err != nil {
		return fmt.Errorf("setresgid process.user.gid %d: %w", u.GID, err)
	}
	if err := unix.Setresuid(int(u.UID), int(u.UID), int(u.UID)); err != nil {
		return fmt.Errorf("setresuid process.user.uid %d: %w", u.UID, err)
	}
	return nil
}

func setgroupsDenied() bool {
	data, err := os.ReadFile("/proc/self/setgroups")
	return err == nil && strings.TrimSpace(string(data)) == "deny"
}

// SetUmask applies process.user.umask; nil leaves the umask alone (the
// caller decides the default, runc uses 0022).
func SetUmask(mask *uint32) error {
	if mask == nil {
		return nil
	}
	if *mask > 0o777 {
		return fmt.Errorf("process.user.umask: %#o out of range [0, 0777]", *mask)
	}
	unix.Umask(int(*mask))
	return nil
}

// DefaultPath is searched when the container env has no PATH.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// LookPath resolves process.args[0] the way execvp would inside the
// container: a name containing "/" is used as is (relative to the current
// directory, i.e. process.cwd), otherwise each directory of the PATH taken
// from env (the container's environment, not hull's; the last PATH= wins, as
// in os/exec) is searched. Call it after pivot_root, chdir and SetUser so
// both the root and the permission check are the container's.
func LookPath(arg0 string, env []string) (string, error) {
	return pathLookup{
		direct: func(p string) string { return p },
		inDir: func(dir, arg0 string) string {
			if dir == "" {
				dir = "." // an empty PATH element means the current directory
			}
			p := filepath.Join(dir, arg0)
			if !filepath.IsAbs(p) {
				p = "./" + p
			}
			return p
		},
		check: checkExecutable,
	}.find(arg0, env)
}

// pathLookup is execvp's search, with the candidate paths and the check
// given: a name with a slash is taken as it is, else each element of the
// env's PATH (DefaultPath without one) is tried in order.
type pathLookup struct {
	direct func(arg0 string) string
	inDir  func(dir, arg0 string) string
	check  func(path string) error
}

func (l pathLookup) find(arg0 string, env []string) (string, error) {
	if arg0 == "" {
		return "", errors.New("process.args[0]: empty executable name")
	}
	if strings.Contains(arg0, "/") {
		p := l.direct(arg0)
		if err := l.check(p); err != nil {
			return "", fmt.Errorf("process.args[0] %q: %w", arg0, err)
		}
		return p, nil
	}
	pathEnv, ok := DefaultPath, false
	for _, kv := range env {
		if v, found := strings.CutPrefix(kv, "PATH="); found {
			pathEnv, ok = v, true
		}
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if p := l.inDir(dir, arg0); l.check(p) == nil {
			return p, nil
		}
	}
	src := "PATH"
	if !ok {
		src = "default PATH"
	}
	return "", fmt.Errorf("process.args[0] %q: executable file not found in %s %q", arg0, src, pathEnv)
}

func checkExecutable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("not a regular file (%s)", st.Mode().Type())
	}
	if err := unix.Access(p, unix.X_OK); err != nil {
		return fmt.Errorf("not executable: %w", err)
	}
	return nil
}
