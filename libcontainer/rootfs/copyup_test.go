package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestTmpcopyup: a tmpfs with tmpcopyup starts with what the directory it
// covers held (owners, modes, times, xattrs, symlinks, hard links, device
// nodes, fifos), never what a symlink in the image points to outside the
// root; ro applies after the copy.
func TestTmpcopyup(t *testing.T) {
	if inChild() {
		childTmpcopyup(t)
		return
	}
	requireRoot(t)
	rootfs := newRootfs(t)
	host := t.TempDir()
	must(t, os.WriteFile(filepath.Join(host, "secret"), []byte("host"), 0o600))
	d := filepath.Join(rootfs, "data")
	must(t, os.MkdirAll(filepath.Join(d, "sub/deeper"), 0o750))
	must(t, unix.Chmod(d, 0o751))
	must(t, os.Chown(d, 3, 4))
	must(t, os.WriteFile(filepath.Join(d, "file"), []byte("content"), 0o640))
	must(t, os.Chown(filepath.Join(d, "file"), 1000, 1001))
	must(t, unix.Chmod(filepath.Join(d, "sub"), 0o2751))
	must(t, os.Chown(filepath.Join(d, "sub"), 7, 8))
	must(t, os.WriteFile(filepath.Join(d, "sub/deeper/suid"), []byte("x"), 0o755))
	must(t, unix.Chmod(filepath.Join(d, "sub/deeper/suid"), 0o4755))
	must(t, os.Link(filepath.Join(d, "file"), filepath.Join(d, "sub/hardlink")))
	must(t, os.Symlink("/etc/passwd", filepath.Join(d, "abs")))
	must(t, os.Symlink(host, filepath.Join(d, "tohost")))
	must(t, unix.Lchown(filepath.Join(d, "abs"), 5, 6))
	must(t, unix.Mkfifo(filepath.Join(d, "fifo"), 0o620))
	must(t, unix.Mknod(filepath.Join(d, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(t, unix.Chmod(filepath.Join(d, "fifo"), 0o620))
	must(t, unix.Chmod(filepath.Join(d, "null"), 0o666))
	must(t, unix.Setxattr(filepath.Join(d, "file"), "user.hull", []byte("kept"), 0))
	must(t, unix.Setxattr(filepath.Join(d, "file"), "trusted.hull", []byte("trusted"), 0))
	old := unix.NsecToTimespec(1_000_000_000 * 1_000_000)
	must(t, unix.UtimesNano(filepath.Join(d, "file"), []unix.Timespec{old, old}))
	must(t, os.MkdirAll(filepath.Join(rootfs, "rodata"), 0o755))
	must(t, os.WriteFile(filepath.Join(rootfs, "rodata/f"), []byte("ro"), 0o644))
	runChild(t, dirEnv+"="+rootfs, hostEnv+"="+host)
	assertNoHostMounts(t, filepath.Dir(rootfs))
	if data, _ := os.ReadFile(filepath.Join(host, "secret")); string(data) != "host" {
		t.Errorf("host file changed: %q", data)
	}
}

func childTmpcopyup(t *testing.T) {
	rootfs := os.Getenv(dirEnv)
	c := &Config{Rootfs: rootfs, Mounts: []specs.Mount{
		{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "tmpcopyup", "size=1m"}},
		{Destination: "/rodata", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup", "ro"}},
		{Destination: "/fresh", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup"}},
	}}
	must(t, Prepare(c))
	d := filepath.Join(rootfs, "data")
	var fs unix.Statfs_t
	must(t, unix.Statfs(d, &fs))
	if fs.Type != unix.TMPFS_MAGIC {
		t.Fatalf("/data is not a tmpfs (%#x)", fs.Type)
	}
	if data, err := os.ReadFile(filepath.Join(d, "file")); string(data) != "content" {
		t.Errorf("file: %q, %v", data, err)
	}
	wantStat(t, d, unix.S_IFDIR|0o751, 0, 0)
	wantStat(t, filepath.Join(d, "file"), unix.S_IFREG|0o640, 1000, 1001)
	wantStat(t, filepath.Join(d, "sub"), unix.S_IFDIR|0o2751, 7, 8)
	wantStat(t, filepath.Join(d, "sub/deeper/suid"), unix.S_IFREG|0o4755, 0, 0)
	wantStat(t, filepath.Join(d, "fifo"), unix.S_IFIFO|0o620, 0, 0)
	wantStat(t, filepath.Join(d, "null"), unix.S_IFCHR|0o666, 0, 0)
	wantStat(t, filepath.Join(d, "abs"), unix.S_IFLNK|0o777, 5, 6)
	if got, _ := os.Readlink(filepath.Join(d, "abs")); got != "/etc/passwd" {
		t.Errorf("symlink abs -> %q, want /etc/passwd", got)
	}
	if got, _ := os.Readlink(filepath.Join(d, "tohost")); got != os.Getenv(hostEnv) {
		t.Errorf("symlink tohost -> %q, want it copied as a link", got)
	}
	var a, b unix.Stat_t
	must(t, unix.Stat(filepath.Join(d, "file"), &a))
	must(t, unix.Stat(filepath.Join(d, "sub/hardlink"), &b))
	if a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("hard link not kept: inodes %d, %d, nlink %d", a.Ino, b.Ino, a.Nlink)
	}
	if a.Mtim.Sec != 1_000_000 {
		t.Errorf("mtime %d, want 1000000", a.Mtim.Sec)
	}
	for name, want := range map[string]string{"user.hull": "kept", "trusted.hull": "trusted"} {
		buf := make([]byte, 64)
		n, err := unix.Getxattr(filepath.Join(d, "file"), name, buf)
		if err != nil || string(buf[:n]) != want {
			t.Errorf("xattr %s: %q, %v; want %q", name, buf[:max(n, 0)], err, want)
		}
	}
	must(t, unix.Statfs(d, &fs))
	if fs.Flags&unix.ST_NOSUID == 0 {
		t.Errorf("/data mount flags %#x, want nosuid", fs.Flags)
	}
	ro := filepath.Join(rootfs, "rodata")
	if data, _ := os.ReadFile(filepath.Join(ro, "f")); string(data) != "ro" {
		t.Errorf("rodata/f: %q", data)
	}
	if err := os.WriteFile(filepath.Join(ro, "g"), nil, 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("write into the ro tmpfs: %v, want EROFS", err)
	}
	if entries, err := os.ReadDir(filepath.Join(rootfs, "fresh")); err != nil || len(entries) != 0 {
		t.Errorf("fresh: %v, %v; want an empty tmpfs", entries, err)
	}
}

func wantStat(t *testing.T, p string, mode, uid, gid uint32) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Errorf("%s: %v", p, err)
		return
	}
	if st.Mode != mode || st.Uid != uid || st.Gid != gid {
		t.Errorf("%s: mode %#o %d:%d, want %#o %d:%d", p, st.Mode, st.Uid, st.Gid, mode, uid, gid)
	}
}

// TestCopySymlink: copy-symlink recreates a symlink source at the
// destination (inside the root, whatever the image's links), and binds a
// source that is not a symlink as usual.
func TestCopySymlink(t *testing.T) {
	if inChild() {
		childCopySymlink(t)
		return
	}
	requireRoot(t)
	rootfs := newRootfs(t)
	host := t.TempDir()
	must(t, os.Symlink("/usr/share/zoneinfo/Etc/UTC", filepath.Join(host, "localtime")))
	must(t, os.WriteFile(filepath.Join(host, "plain"), []byte("plain"), 0o644))
	must(t, os.Symlink(host, filepath.Join(rootfs, "evil")))
	runChild(t, dirEnv+"="+rootfs, hostEnv+"="+host)
	if _, err := os.Lstat(filepath.Join(host, "lt")); err == nil {
		t.Errorf("symlink made on the host through the image's evil link")
	}
	assertNoHostMounts(t, filepath.Dir(rootfs))
}

func childCopySymlink(t *testing.T) {
	rootfs, host := os.Getenv(dirEnv), os.Getenv(hostEnv)
	c := &Config{Rootfs: rootfs, Mounts: []specs.Mount{
		{Destination: "/etc/localtime", Type: "bind", Source: host + "/localtime", Options: []string{"rbind", "copy-symlink"}},
		{Destination: "/etc/localtime", Type: "bind", Source: host + "/localtime", Options: []string{"rbind", "copy-symlink"}},
		{Destination: "/evil/lt", Type: "bind", Source: host + "/localtime", Options: []string{"bind", "copy-symlink"}},
		{Destination: "/plain", Type: "bind", Source: host + "/plain", Options: []string{"bind", "ro", "copy-symlink"}},
	}}
	must(t, Prepare(c))
	for _, p := range []string{"etc/localtime", filepath.Join(strings.TrimPrefix(host, "/"), "lt")} {
		if got, err := os.Readlink(filepath.Join(rootfs, p)); got != "/usr/share/zoneinfo/Etc/UTC" {
			t.Errorf("%s -> %q, %v", p, got, err)
		}
	}
	if mountAt(t, filepath.Join(rootfs, "plain")) == nil {
		t.Errorf("/plain: not bind mounted")
	}
	c.Mounts = []specs.Mount{{Destination: "/plain", Type: "bind", Source: host + "/localtime", Options: []string{"bind", "copy-symlink"}}}
	if err := Prepare(c); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("copy-symlink onto a file: %v, want 'already exists'", err)
	}
}

// TestRefusedOption: a filesystem option the kernel refuses is named, with
// the kernel's reason, in the error.
func TestRefusedOption(t *testing.T) {
	if inChild() {
		rootfs := os.Getenv(dirEnv)
		err := Prepare(&Config{Rootfs: rootfs, Mounts: []specs.Mount{
			{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "size=1m", "hull-nope=1"}},
		}})
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != "hull-nope=1" || !strings.Contains(err.Error(), `mounts[0].options "hull-nope=1"`) {
			t.Errorf("error %v, want it to name mounts[0].options \"hull-nope=1\"", err)
		}
		t.Logf("error: %q", err.Error())
		return
	}
	requireRoot(t)
	rootfs := newRootfs(t)
	runChild(t, dirEnv+"="+rootfs)
	assertNoHostMounts(t, filepath.Dir(rootfs))
}

func TestValidateMounts(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    specs.Mount
		want string // "" for valid
	}{
		{"tmpfs data", specs.Mount{Destination: "/t", Type: "tmpfs", Options: []string{"size=1m", "mode=1777", "tmpcopyup"}}, ""},
		{"bind flags", specs.Mount{Destination: "/b", Type: "bind", Source: "/x", Options: []string{"rbind", "rprivate", "ro", "nosuid", "rro", "idmap"}}, ""},
		{"copy-symlink", specs.Mount{Destination: "/b", Type: "none", Source: "/x", Options: []string{"bind", "copy-symlink"}}, ""},
		{"bind data ignored as runc", specs.Mount{Destination: "/b", Type: "bind", Source: "/x", Options: []string{"rbind", "mode=755"}}, ""},
		{"bind unknown", specs.Mount{Destination: "/b", Type: "bind", Source: "/x", Options: []string{"rbind", "hull-nope"}}, `mounts[0].options "hull-nope": unknown mount option`},
		{"empty", specs.Mount{Destination: "/b", Type: "tmpfs", Options: []string{""}}, "mounts[0].options: empty mount option"},
		{"tmpcopyup on bind", specs.Mount{Destination: "/b", Type: "bind", Source: "/x", Options: []string{"bind", "tmpcopyup"}}, `"tmpcopyup": only for tmpfs`},
		{"copy-symlink on tmpfs", specs.Mount{Destination: "/t", Type: "tmpfs", Options: []string{"copy-symlink"}}, `"copy-symlink": only for bind`},
	} {
		err := ValidateMounts([]specs.Mount{tc.m})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
