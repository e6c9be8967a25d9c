package rootfs

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestSymlinkEscape: symlinks in the image pointing at a host directory or
// climbing with ".." must keep mounts, devices and created paths inside.
func TestSymlinkEscape(t *testing.T) {
	if inChild() {
		childSymlinkEscape(t)
		return
	}
	requireRoot(t)
	rootfs := newRootfs(t)
	host, err := os.MkdirTemp("", "hull-host-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(host) })
	must(t, os.Symlink(host, filepath.Join(rootfs, "evil")))
	must(t, os.Symlink("../../../../..", filepath.Join(rootfs, "up")))
	must(t, os.Symlink("../../../../../"+strings.TrimPrefix(host, "/"), filepath.Join(rootfs, "upevil")))
	runChild(t, dirEnv+"="+rootfs, hostEnv+"="+host)
	entries, _ := os.ReadDir(host)
	if len(entries) != 0 {
		t.Errorf("host dir %s was touched: %v", host, entries)
	}
	assertNoHostMounts(t, filepath.Dir(rootfs))
	assertNoHostMounts(t, host)
}

func childSymlinkEscape(t *testing.T) {
	rootfs, host := os.Getenv(dirEnv), os.Getenv(hostEnv)
	c := &Config{
		Rootfs: rootfs,
		Mounts: []specs.Mount{
			{Destination: "/evil/x", Type: "tmpfs", Source: "tmpfs"},
			{Destination: "/up/y", Type: "tmpfs", Source: "tmpfs"},
			{Destination: "/upevil/deep/z", Type: "tmpfs", Source: "tmpfs"},
			{Destination: "/evil/file", Type: "bind", Source: "/etc/hostname", Options: []string{"bind", "ro"}},
		},
		Devices: []specs.LinuxDevice{{Path: "/evil/dev0", Type: "c", Major: 1, Minor: 3}},
	}
	must(t, Prepare(c))
	inRoot := filepath.Join(rootfs, host)
	for _, mp := range []string{inRoot + "/x", rootfs + "/y", inRoot + "/deep/z", inRoot + "/file"} {
		if mountAt(t, mp) == nil {
			t.Errorf("expected a mount at %s", mp)
		}
	}
	for _, mp := range []string{host + "/x", "/y", host + "/deep/z", host + "/file"} {
		if mountAt(t, mp) != nil {
			t.Errorf("mount escaped to host path %s", mp)
		}
	}
	assertCharDev(t, inRoot+"/dev0", 1, 3)
}

// TestLifecycle runs Prepare, Pivot and Finalize with a runc-like config and
// checks the result from inside the new root.
func TestLifecycle(t *testing.T) {
	if inChild() {
		childLifecycle(t)
		return
	}
	requireRoot(t)
	rootfs := newRootfs(t)
	data := filepath.Join(filepath.Dir(rootfs), "data")
	rec := filepath.Join(filepath.Dir(rootfs), "rec")
	must(t, os.MkdirAll(filepath.Join(rec, "sub"), 0o755))
	must(t, os.MkdirAll(data, 0o755))
	must(t, os.WriteFile(filepath.Join(data, "hello"), []byte("hi"), 0o644))
	runChild(t, dirEnv+"="+rootfs)
	if _, err := os.Stat(filepath.Join(data, "written")); err == nil {
		t.Error("read-only bind was writable")
	}
	assertNoHostMounts(t, filepath.Dir(rootfs))
}

func lifecycleConfig(rootfs string) *Config {
	mode := os.FileMode(0o620)
	uid, gid := uint32(1), uint32(2)
	parent := filepath.Dir(rootfs)
	return &Config{
		Rootfs:   rootfs,
		Readonly: true,
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
			{Destination: "/data", Type: "bind", Source: filepath.Join(parent, "data"), Options: []string{"bind", "ro", "nosuid"}},
			{Destination: "/rec", Type: "bind", Source: filepath.Join(parent, "rec"), Options: []string{"rbind", "rro", "rprivate"}},
			{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev"}},
		},
		Devices: []specs.LinuxDevice{
			{Path: "/dev/mydev", Type: "c", Major: 1, Minor: 5, FileMode: &mode, UID: &uid, GID: &gid},
			{Path: "/dev/sub/fifo", Type: "p"},
		},
		MaskedPaths:   []string{"/proc/kcore", "/proc/version", "/proc/driver", "/proc/does-not-exist"},
		ReadonlyPaths: []string{"/proc/sys", "/proc/sysrq-trigger", "/proc/nope"},
		Propagation:   "rprivate",
	}
}

func childLifecycle(t *testing.T) {
	rootfs := os.Getenv(dirEnv)
	_, kerr := os.Stat("/proc/kcore")
	hostKcore := kerr == nil
	// A submount inside the rbind source: rro must reach it too.
	must(t, unix.Mount("tmpfs", filepath.Join(filepath.Dir(rootfs), "rec", "sub"), "tmpfs", 0, ""))
	c := lifecycleConfig(rootfs)
	must(t, Prepare(c))
	must(t, Pivot(c))
	must(t, Finalize(c))

	if cwd, _ := os.Getwd(); cwd != "/" {
		t.Errorf("cwd after Pivot = %q", cwd)
	}
	if _, err := os.Stat(filepath.Join(rootfs, "bin")); err == nil {
		t.Errorf("old root still visible at %s", rootfs)
	}
	// Masking.
	if b, err := os.ReadFile("/proc/version"); err != nil || len(b) != 0 {
		t.Errorf("/proc/version not masked: %d bytes, %v", len(b), err)
	}
	assertCharDev(t, "/proc/version", 1, 3)
	if hostKcore {
		assertCharDev(t, "/proc/kcore", 1, 3)
	}
	if ents, err := os.ReadDir("/proc/driver"); err != nil || len(ents) != 0 {
		t.Errorf("/proc/driver not masked: %v %v", ents, err)
	}
	assertEROFS(t, "/proc/driver/x")
	// Read-only paths and root.
	if err := os.WriteFile("/proc/sys/kernel/hostname", []byte("x"), 0); !errors.Is(err, unix.EROFS) {
		t.Errorf("write /proc/sys/kernel/hostname: %v, want EROFS", err)
	}
	assertEROFS(t, "/newfile")
	assertEROFS(t, "/data/written")
	assertEROFS(t, "/rec/sub/x")
	if b, err := os.ReadFile("/data/hello"); err != nil || string(b) != "hi" {
		t.Errorf("/data/hello = %q, %v", b, err)
	}
	if err := os.WriteFile("/tmp/ok", nil, 0o644); err != nil {
		t.Errorf("tmpfs /tmp not writable under a read-only root: %v", err)
	}
	// Devices and links.
	for _, d := range []struct {
		p            string
		major, minor uint32
	}{{"/dev/null", 1, 3}, {"/dev/zero", 1, 5}, {"/dev/full", 1, 7}, {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}, {"/dev/mydev", 1, 5}} {
		assertCharDev(t, d.p, d.major, d.minor)
	}
	var st unix.Stat_t
	must(t, unix.Stat("/dev/mydev", &st))
	if st.Mode&0o7777 != 0o620 || st.Uid != 1 || st.Gid != 2 {
		t.Errorf("/dev/mydev mode %o uid %d gid %d, want 620 1 2", st.Mode&0o7777, st.Uid, st.Gid)
	}
	must(t, unix.Stat("/dev/sub/fifo", &st))
	if st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("/dev/sub/fifo mode %o, want fifo", st.Mode)
	}
	for link, want := range map[string]string{"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0", "/dev/stderr": "/proc/self/fd/2", "/dev/ptmx": "pts/ptmx"} {
		if got, err := os.Readlink(link); err != nil || got != want {
			t.Errorf("readlink %s = %q, %v; want %q", link, got, err, want)
		}
	}
	if _, err := os.Lstat("/dev/core"); (err == nil) != hostKcore {
		t.Errorf("/dev/core present = %v, host has /proc/kcore = %v", err == nil, hostKcore)
	}
	// Mounts.
	for _, mp := range []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/systemd"} {
		if mountAt(t, mp) == nil {
			t.Errorf("no mount at %s", mp)
		}
	}
	if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.shares"); err != nil {
		t.Errorf("cgroup cpu hierarchy not usable: %v", err)
	}
	assertEROFS(t, "/sys/fs/cgroup/newdir")
	if m := mountAt(t, "/"); m == nil || strings.Contains(m.optional, "shared:") || strings.Contains(m.optional, "master:") {
		t.Errorf("/ propagation not private: %+v", m)
	}
	// The container's own tools see the same thing.
	out, err := exec.Command("/bin/busybox", "sh", "-c", "cat /proc/version | wc -c; touch /x 2>&1").CombinedOutput()
	if !strings.Contains(string(out), "Read-only file system") || !strings.HasPrefix(strings.TrimSpace(string(out)), "0") {
		t.Errorf("busybox in container: %v\n%s", err, out)
	}
}

// TestProcOnSymlink: proc/sysfs destinations that are symlinks are refused
// (CVE-2019-19921), even though the symlink would resolve inside the root.
func TestProcOnSymlink(t *testing.T) {
	if inChild() {
		rootfs := os.Getenv(dirEnv)
		for _, typ := range []string{"proc", "sysfs"} {
			dest := map[string]string{"proc": "/proc", "sysfs": "/sys"}[typ]
			err := Prepare(&Config{Rootfs: rootfs, Mounts: []specs.Mount{{Destination: dest, Type: typ, Source: typ}}})
			if err == nil || !strings.Contains(err.Error(), "symlink") {
				t.Errorf("mount %s on symlinked %s: err = %v, want symlink refusal", typ, dest, err)
			}
		}
		for _, mp := range []string{rootfs + "/elsewhere", rootfs + "/proc", rootfs + "/sys", "/elsewhere"} {
			if m := mountAt(t, mp); m != nil && (m.fstype == "proc" || m.fstype == "sysfs") {
				t.Errorf("%s got mounted at %s", m.fstype, mp)
			}
		}
		return
	}
	requireRoot(t)
	rootfs := newRootfs(t)
	must(t, os.Remove(filepath.Join(rootfs, "proc")))
	must(t, os.Remove(filepath.Join(rootfs, "sys")))
	must(t, os.Mkdir(filepath.Join(rootfs, "elsewhere"), 0o755))
	must(t, os.Symlink("/elsewhere", filepath.Join(rootfs, "proc")))
	must(t, os.Mkdir(filepath.Join(rootfs, "real"), 0o755))
	must(t, os.Symlink("real/../elsewhere", filepath.Join(rootfs, "sys")))
	runChild(t, dirEnv+"="+rootfs)
	assertNoHostMounts(t, filepath.Dir(rootfs))
}

// TestMaskRefusesFakes: masking must not trust an image's /dev/null or a
// /proc that is not procfs.
func TestMaskRefusesFakes(t *testing.T) {
	cases := map[string]struct {
		setup  func(t *testing.T, rootfs string)
		mounts []specs.Mount
		want   string
	}{
		"fake-devnull": {
			setup: func(t *testing.T, r string) {
				must(t, os.WriteFile(filepath.Join(r, "dev/null"), []byte("secret"), 0o644))
				must(t, os.WriteFile(filepath.Join(r, "etc/target"), []byte("x"), 0o644))
			},
			want: "/dev/null is not the null device",
		},
		"fake-proc-dir": {
			setup: func(t *testing.T, r string) {
				must(t, os.WriteFile(filepath.Join(r, "proc/version"), nil, 0o644))
				must(t, unix.Mknod(filepath.Join(r, "dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
			},
			want: "/proc is not procfs",
		},
		"proc-symlink-to-real-procfs": {
			setup: func(t *testing.T, r string) {
				must(t, os.Remove(filepath.Join(r, "proc")))
				must(t, os.Mkdir(filepath.Join(r, "realproc"), 0o755))
				must(t, os.Symlink("realproc", filepath.Join(r, "proc")))
			},
			mounts: []specs.Mount{{Destination: "/realproc", Type: "proc", Source: "proc"}, {Destination: "/dev", Type: "tmpfs", Source: "tmpfs"}},
			want:   "symlink",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if inChild() {
				c := &Config{Rootfs: os.Getenv(dirEnv), Mounts: tc.mounts, MaskedPaths: []string{"/proc/kcore", "/proc/version", "/etc/target"}}
				if tc.mounts == nil {
					c.Devices = nil
					c.Mounts = []specs.Mount{{Destination: "/dev", Type: "bind", Source: filepath.Join(c.Rootfs, "dev"), Options: []string{"bind"}}}
				}
				must(t, Prepare(c))
				must(t, Pivot(c))
				err := Finalize(c)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Finalize = %v, want error containing %q", err, tc.want)
				}
				return
			}
			requireRoot(t)
			rootfs := newRootfs(t)
			tc.setup(t, rootfs)
			runChild(t, dirEnv+"="+rootfs)
			assertNoHostMounts(t, filepath.Dir(rootfs))
		})
	}
}

// TestUserNSDevices: with InUserNS the device nodes are host binds.
func TestUserNSDevices(t *testing.T) {
	if inChild() {
		rootfs := os.Getenv(dirEnv)
		c := &Config{Rootfs: rootfs, InUserNS: true,
			Mounts:  []specs.Mount{{Destination: "/dev", Type: "tmpfs", Source: "tmpfs"}},
			Devices: []specs.LinuxDevice{{Path: "/dev/kmsg", Type: "c", Major: 1, Minor: 11}}}
		must(t, Prepare(c))
		for _, d := range []string{"null", "zero", "tty", "kmsg"} {
			if mountAt(t, rootfs+"/dev/"+d) == nil {
				t.Errorf("/dev/%s is not a bind mount", d)
			}
		}
		assertCharDev(t, rootfs+"/dev/null", 1, 3)
		assertCharDev(t, rootfs+"/dev/kmsg", 1, 11)
		return
	}
	requireRoot(t)
	rootfs := newRootfs(t)
	runChild(t, dirEnv+"="+rootfs)
	assertNoHostMounts(t, filepath.Dir(rootfs))
}

// TestNoPivot: MS_MOVE + chroot.
func TestNoPivot(t *testing.T) {
	if inChild() {
		c := &Config{Rootfs: os.Getenv(dirEnv), NoPivot: true}
		must(t, Prepare(c))
		must(t, Pivot(c))
		must(t, Finalize(c))
		if _, err := os.Stat("/bin/busybox"); err != nil {
			t.Errorf("not in the new root: %v", err)
		}
		return
	}
	requireRoot(t)
	rootfs := newRootfs(t)
	runChild(t, dirEnv+"="+rootfs)
	assertNoHostMounts(t, filepath.Dir(rootfs))
}

// TestIdmapMount: an idmapped bind shows the source's owners shifted by the
// mount's mapping, and falls back to the container's mappings.
func TestIdmapMount(t *testing.T) {
	if inChild() {
		rootfs := os.Getenv(dirEnv)
		src := filepath.Join(filepath.Dir(rootfs), "idsrc")
		m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		c := &Config{Rootfs: rootfs, UIDMappings: m, GIDMappings: m, Mounts: []specs.Mount{
			{Destination: "/own", Type: "bind", Source: src, Options: []string{"bind", "idmap"},
				UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 2000, Size: 10}},
				GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 3000, Size: 10}}},
			{Destination: "/dflt", Type: "bind", Source: src, Options: []string{"rbind", "ridmap", "ro"}},
		}}
		must(t, Prepare(c))
		for _, tc := range []struct {
			p        string
			uid, gid uint32
		}{{"/own/f", 2001, 3002}, {"/dflt/f", 100001, 100002}} {
			var st unix.Stat_t
			must(t, unix.Stat(rootfs+tc.p, &st))
			if st.Uid != tc.uid || st.Gid != tc.gid {
				t.Errorf("%s owned by %d:%d, want %d:%d", tc.p, st.Uid, st.Gid, tc.uid, tc.gid)
			}
		}
		assertEROFS(t, rootfs+"/dflt/new")
		return
	}
	requireRoot(t)
	rootfs := newRootfs(t)
	src := filepath.Join(filepath.Dir(rootfs), "idsrc")
	must(t, os.Mkdir(src, 0o755))
	must(t, os.WriteFile(filepath.Join(src, "f"), nil, 0o644))
	must(t, os.Chown(filepath.Join(src, "f"), 1, 2))
	runChild(t, dirEnv+"="+rootfs)
	assertNoHostMounts(t, filepath.Dir(rootfs))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func assertCharDev(t *testing.T, p string, major, minor uint32) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		t.Errorf("stat %s: %v", p, err)
		return
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != major || unix.Minor(st.Rdev) != minor {
		t.Errorf("%s: mode %o dev %d:%d, want char %d:%d", p, st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev), major, minor)
	}
}

func assertEROFS(t *testing.T, p string) {
	t.Helper()
	err := os.WriteFile(p, []byte("x"), 0o644)
	if !errors.Is(err, unix.EROFS) {
		t.Errorf("write %s: %v, want EROFS", p, err)
	}
}
