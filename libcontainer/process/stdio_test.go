package process

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestNeedsChown(t *testing.T) {
	tests := []struct {
		name string
		st   unix.Stat_t
		ctty bool
		anon bool
		uid  int
		want bool
	}{
		{"root's pty, the controlling terminal, to a user", unix.Stat_t{Mode: unix.S_IFCHR | 0o620, Rdev: unix.Mkdev(136, 2)}, true, false, 1000, true},
		{"the caller's terminal, handed on", unix.Stat_t{Mode: unix.S_IFCHR | 0o620, Rdev: unix.Mkdev(136, 2)}, false, false, 1000, false},
		{"root's pipe to a user", unix.Stat_t{Mode: unix.S_IFIFO | 0o600}, false, true, 1000, true},
		{"a named FIFO of the host's", unix.Stat_t{Mode: unix.S_IFIFO | 0o600}, false, false, 1000, false},
		{"a socket", unix.Stat_t{Mode: unix.S_IFSOCK | 0o777}, false, false, 1000, true},
		{"already the user's", unix.Stat_t{Mode: unix.S_IFCHR | 0o620, Uid: 1000, Rdev: unix.Mkdev(136, 2)}, true, false, 1000, false},
		{"/dev/null", unix.Stat_t{Mode: unix.S_IFCHR | 0o666, Rdev: unix.Mkdev(1, 3)}, false, false, 1000, false},
		{"the caller's regular file", unix.Stat_t{Mode: unix.S_IFREG | 0o644}, false, false, 1000, false},
		{"root stays root", unix.Stat_t{Mode: unix.S_IFIFO | 0o600}, false, true, 0, false},
	}
	for _, tc := range tests {
		if got := needsChown(tc.st, tc.uid, tc.ctty, tc.anon); got != tc.want {
			t.Errorf("%s: needsChown = %v, want %v", tc.name, got, tc.want)
		}
	}
}
