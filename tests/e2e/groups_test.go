package e2e

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSupplementaryGroupsAsRunc: the process's supplementary groups are
// process.user.additionalGids alone, as runc (the control) and crun set
// them: the gid is not added (a process that later changes its gid must
// not keep the old one as a supplementary group). On hull's C finisher,
// its Go init and runc; for an exec with --user too.
func TestSupplementaryGroupsAsRunc(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		user specs.User
		want string
	}{
		{"root", specs.User{}, ""},
		{"user", specs.User{UID: 1000, GID: 1000}, ""},
		{"additional", specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{20, 10}}, "10 20"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachInitVariant(t, func(s *specs.Spec) {
				s.Process.User = tc.user
				s.Process.Args = []string{"sleep", "1000"}
			}, func(t *testing.T, rt string, c *container) {
				c.mustCreate()
				c.mustHull("start", c.ID)
				groups := func(args ...string) string {
					r := c.mustHull(append(append([]string{"exec"}, args...), c.ID, "sh", "-c", "grep ^Groups: /proc/1/status /proc/self/status")...)
					return r.Stdout
				}
				// The kernel ends the line with a space after each group.
				field := func(out, file string) string {
					for _, line := range strings.Split(out, "\n") {
						if rest, ok := strings.CutPrefix(line, file+":Groups:"); ok {
							return strings.TrimSpace(rest)
						}
					}
					return "missing"
				}
				out := groups()
				for _, file := range []string{"/proc/1/status", "/proc/self/status"} {
					if got := field(out, file); got != tc.want {
						t.Errorf("%s: %s Groups %q, want %q", rt, file, got, tc.want)
					}
				}
				// exec --user changes the ids alone: the config's
				// additionalGids stay, as under runc.
				if got := field(groups("--user", "1000:1000"), "/proc/self/status"); got != tc.want {
					t.Errorf("%s: exec --user 1000:1000: Groups %q, want %q", rt, got, tc.want)
				}
			})
		})
	}
}

// TestExecUserKeepsUmask: exec --user changes the ids it names alone; the
// config's umask stays, as it does for an exec without --user (the exec'd
// process is the config's with the flags' changes), and so does its gid
// when --user names none (as under runc). runc 1.1 gives every exec 0022,
// with or without --user: no control.
func TestExecUserKeepsUmask(t *testing.T) {
	t.Parallel()
	mask := uint32(0o027)
	c := newContainer(t, func(s *specs.Spec) {
		s.Process.User.Umask = &mask
		s.Process.User.GID = 5
		s.Process.Args = []string{"sleep", "1000"}
	})
	c.mustCreate()
	c.mustHull("start", c.ID)
	for _, tc := range []struct {
		args []string
		want string
	}{{nil, "0027 5"}, {[]string{"--user", "1000:1000"}, "0027 1000"}, {[]string{"--user", "1000"}, "0027 5"}} {
		r := c.mustHull(append(append([]string{"exec"}, tc.args...), c.ID, "sh", "-c", "umask; id -g")...)
		if got := strings.Join(strings.Fields(r.Stdout), " "); got != tc.want {
			t.Errorf("exec %v: umask and gid %q, want %q", tc.args, got, tc.want)
		}
	}
}
