package process

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestWithHome(t *testing.T) {
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	os.WriteFile(passwd, []byte("root:x:0:0:root:/root:/bin/sh\n# comment\n\nbad line\n"+
		"svc:x:1000:1000::/home/svc:/bin/sh\ndup:x:1000:1000::/home/dup:/bin/sh\nnohome:x:7:7::\n"), 0o644)
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		env    []string
		passwd string
		uid    uint32
		want   []string
	}{
		{"root", []string{"PATH=/bin"}, passwd, 0, []string{"PATH=/bin", "HOME=/root"}},
		{"first entry wins", nil, passwd, 1000, []string{"HOME=/home/svc"}},
		{"no entry", []string{"A=1"}, passwd, 4242, []string{"A=1", "HOME=/"}},
		{"empty home field", nil, passwd, 7, []string{"HOME="}},
		{"kept", []string{"HOME=/x", "A=1"}, passwd, 0, []string{"HOME=/x", "A=1"}},
		{"empty replaced", []string{"HOME=", "A=1"}, passwd, 0, []string{"A=1", "HOME=/root"}},
		{"last wins", []string{"HOME=/x", "HOME="}, passwd, 0, []string{"HOME=/root"}},
		{"no passwd", nil, filepath.Join(dir, "none"), 0, []string{"HOME=/"}},
		{"passwd is a fifo", nil, fifo, 0, []string{"HOME=/"}},
		{"passwd is a dir", nil, dir, 0, []string{"HOME=/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := WithHome(tc.env, tc.passwd, tc.uid); !slices.Equal(got, tc.want) {
				t.Errorf("WithHome(%q, uid %d) = %q, want %q", tc.env, tc.uid, got, tc.want)
			}
		})
	}
}
