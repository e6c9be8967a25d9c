package process

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestNeedsChown(t *testing.T) {
	tests := []struct {
		name string
		st   unix.Stat_t
		uid  int
		want bool
	}{
		{"root's pty to a user", unix.Stat_t{Mode: unix.S_IFCHR | 0o620, Rdev: unix.Mkdev(136, 2)}, 1000, true},
		{"root's pipe to a user", unix.Stat_t{Mode: unix.S_IFIFO | 0o600}, 1000, true},
		{"already the user's", unix.Stat_t{Mode: unix.S_IFCHR | 0o620, Uid: 1000, Rdev: unix.Mkdev(136, 2)}, 1000, false},
		{"/dev/null", unix.Stat_t{Mode: unix.S_IFCHR | 0o666, Rdev: unix.Mkdev(1, 3)}, 1000, false},
		{"a regular file with /dev/null's rdev bits", unix.Stat_t{Mode: unix.S_IFREG | 0o644, Rdev: unix.Mkdev(1, 3)}, 1000, true},
		{"root stays root", unix.Stat_t{Mode: unix.S_IFIFO | 0o600}, 0, false},
	}
	for _, tc := range tests {
		if got := needsChown(tc.st, tc.uid); got != tc.want {
			t.Errorf("%s: needsChown = %v, want %v", tc.name, got, tc.want)
		}
	}
}
