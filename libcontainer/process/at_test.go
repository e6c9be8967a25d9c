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
