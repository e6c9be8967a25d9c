package process

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLookPathAt resolves programs inside a root directory: symlinks are
// followed inside it (an absolute link lands in the root, not the host),
// and a non-executable or missing program is an error naming args[0].
func TestLookPathAt(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"bin", "usr/bin", "work"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "bin/tool"), nil, 0o755)
	os.WriteFile(filepath.Join(root, "usr/bin/data"), nil, 0o644)
	os.WriteFile(filepath.Join(root, "work/local"), nil, 0o700)
	os.Symlink("/bin/tool", filepath.Join(root, "usr/bin/link"))
	os.Symlink("/etc", filepath.Join(root, "usr/bin/hostetc")) // the root's /etc, absent
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	path := []string{"PATH=/usr/bin:/bin"}
	cases := []struct {
		arg0, cwd, want, err string
		env                  []string
	}{
		{"tool", "/", "/bin/tool", "", path},
		{"link", "/", "/usr/bin/link", "", path},
		{"tool", "/", "/bin/tool", "", nil}, // default PATH
		{"/bin/tool", "/", "/bin/tool", "", path},
		{"./local", "/work", "/work/local", "", path},
		{"local", "/work", "/work/local", "", []string{"PATH=:/bin"}}, // empty element: cwd
		{"data", "/", "", `process.args[0] "data": executable file not found in PATH "/usr/bin:/bin"`, path},
		{"/usr/bin/data", "/", "", `process.args[0] "/usr/bin/data": not executable`, path},
		{"/usr/bin/hostetc/passwd", "/", "", `process.args[0] "/usr/bin/hostetc/passwd": no such file or directory`, path},
		{"/bin", "/", "", `not a regular file`, path},
		{"", "/", "", "empty executable name", path},
	}
	for _, c := range cases {
		got, err := LookPathAt(fd, c.arg0, c.env, c.cwd)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("LookPathAt(%q) = %q, %v; want error %q", c.arg0, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("LookPathAt(%q, cwd %s) = %q, %v; want %q", c.arg0, c.cwd, got, err, c.want)
		}
	}
}

func TestWithHomeAt(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n"), 0o644)
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	cases := []struct {
		env  []string
		uid  uint32
		want string
	}{
		{nil, 1000, "HOME=/home/u"},
		{[]string{"HOME="}, 0, "HOME=/root"},
		{[]string{"HOME=/set"}, 1000, "HOME=/set"},
		{nil, 4242, "HOME=/"},
	}
	for _, c := range cases {
		got := WithHomeAt(c.env, fd, c.uid)
		if got[len(got)-1] != c.want {
			t.Errorf("WithHomeAt(%q, uid %d) = %q, want last %q", c.env, c.uid, got, c.want)
		}
	}
}

// TestOpenCheckedInOpensOnlyWhatPasses: a node that fails the check is
// never opened (no IN_OPEN on it; an O_PATH fd opens nothing), and one that
// passes is. hull opens these files in the host's cgroup, so an open the
// container's device cgroup would refuse must not happen at all: hull
// 867ede5 opened the image's /etc/passwd first and looked at it after.
func TestOpenCheckedInOpensOnlyWhatPasses(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes a character device node")
	}
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	node := filepath.Join(root, "etc/passwd")
	must(unix.Mknod(node, unix.S_IFCHR|0o644, int(unix.Mkdev(1, 3)))) // /dev/null's numbers
	must(os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\n"), 0o644))
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	must(err)
	defer unix.Close(rootFd)
	opened := watchOpens(t, node)

	if home := homeAt(rootFd, 0); home != "/" {
		t.Errorf("home from a device node: %q, want /", home)
	}
	if _, err := OpenCheckedIn(rootFd, "/etc/passwd", unix.O_RDONLY, RegularFile); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("OpenCheckedIn of a device: %v, want not a regular file", err)
	}
	if opened() {
		t.Fatal("the device node was opened although it failed the check")
	}
	f, err := OpenCheckedIn(rootFd, "/etc/passwd", unix.O_RDONLY, func(*unix.Stat_t) error { return nil })
	must(err)
	f.Close()
	if !opened() {
		t.Fatal("no IN_OPEN for an open that passed the check: the watch sees nothing")
	}
	g, err := OpenCheckedIn(rootFd, "/etc/group", unix.O_RDONLY, RegularFile)
	must(err)
	g.Close()
}

// watchOpens reports, each time it is called, whether path was opened
// (not with O_PATH) since the last call.
func watchOpens(t *testing.T, path string) func() bool {
	t.Helper()
	in, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(in) })
	if _, err := unix.InotifyAddWatch(in, path, unix.IN_OPEN); err != nil {
		t.Fatal(err)
	}
	return func() bool {
		buf := make([]byte, 4096)
		seen := false
		for {
			n, err := unix.Read(in, buf)
			if n <= 0 || err != nil {
				return seen
			}
			seen = true
		}
	}
}
