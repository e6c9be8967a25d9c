package nspawn

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/nspawnconv"
)

func TestApplyPreSteps(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.WriteFile(src, []byte("host\n"), 0o644)
	os.Symlink("elsewhere", filepath.Join(dir, "link"))
	p := func(n string) string { return filepath.Join(dir, n) }
	steps := []nspawnconv.PreStep{
		{Action: nspawnconv.ActionMkdir, Path: p("a/b"), Mode: 0o700},
		{Action: nspawnconv.ActionWriteFile, Path: p("a/file"), Data: "data", Mode: 0o444},
		{Action: nspawnconv.ActionCopyFile, Path: p("copy"), Source: src, Mode: 0o644},
		{Action: nspawnconv.ActionCopyFile, Path: p("link"), Source: src}, // copy-*: keeps the symlink
		{Action: nspawnconv.ActionSymlink, Path: p("a/zone"), Source: "../usr/share/zoneinfo/UTC"},
		{Action: nspawnconv.ActionRemove, Path: p("missing")},
		{Action: nspawnconv.ActionCopyFile, Path: p("x"), Source: p("nope"), Optional: true},
	}
	var warned []string
	if err := ApplyPreSteps(steps, func(w string) { warned = append(warned, w) }); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		path, want string
		mode       os.FileMode
	}{{"a/file", "data", 0o444}, {"copy", "host\n", 0o644}}
	for _, c := range checks {
		b, err := os.ReadFile(p(c.path))
		st, _ := os.Stat(p(c.path))
		if err != nil || string(b) != c.want || st.Mode().Perm() != c.mode {
			t.Errorf("%s: %q %v %v, want %q %v", c.path, b, st.Mode(), err, c.want, c.mode)
		}
	}
	if l, _ := os.Readlink(p("link")); l != "elsewhere" {
		t.Errorf("copy-file without replace changed a symlink: %q", l)
	}
	if l, _ := os.Readlink(p("a/zone")); l != "../usr/share/zoneinfo/UTC" {
		t.Errorf("symlink = %q", l)
	}
	if st, _ := os.Stat(p("a/b")); st == nil || st.Mode().Perm() != 0o700 {
		t.Errorf("mkdir mode %v", st)
	}
	if len(warned) != 1 {
		t.Errorf("optional failure warnings: %q", warned)
	}
	bad := []nspawnconv.PreStep{{Action: nspawnconv.ActionCopyFile, Path: p("y"), Source: p("nope"), Key: "ResolvConf="}}
	if err := ApplyPreSteps(bad, nil); err == nil {
		t.Error("a failing step did not fail")
	}
}

// TestPreStepOwner: with Owner set, what a step makes belongs to that
// uid and gid (a symlink itself, not its target); without it, to root.
func TestPreStepOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	os.WriteFile(p("src"), []byte("x"), 0o644)
	const owner = 524288
	steps := []nspawnconv.PreStep{
		{Action: nspawnconv.ActionMkdir, Path: p("d"), Mode: 0o700, Owner: owner},
		{Action: nspawnconv.ActionWriteFile, Path: p("d/f"), Data: "secret", Mode: 0o600, Owner: owner},
		{Action: nspawnconv.ActionCopyFile, Path: p("d/c"), Source: p("src"), Mode: 0o400, Replace: true, Owner: owner},
		{Action: nspawnconv.ActionSymlink, Path: p("d/l"), Source: "f", Owner: owner},
		{Action: nspawnconv.ActionWriteFile, Path: p("d/root"), Data: "r"},
	}
	if err := ApplyPreSteps(steps, nil); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]uint32{"d": owner, "d/f": owner, "d/c": owner, "d/l": owner, "d/root": 0, "src": 0} {
		var st unix.Stat_t
		if err := unix.Lstat(p(name), &st); err != nil || st.Uid != want || st.Gid != want {
			t.Errorf("%s: owner %d:%d (%v), want %d", name, st.Uid, st.Gid, err, want)
		}
	}
}

// TestMountsAndRemoveTree mounts a real tmpfs through a pre-step, checks
// remove-tree refuses while it is mounted, umount removes it (twice is
// fine) and remove-tree then deletes the directory.
func TestMountsAndRemoveTree(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting tmpfs needs root")
	}
	dir := t.TempDir()
	mnt := filepath.Join(dir, "volatile")
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	step := nspawnconv.PreStep{Action: nspawnconv.ActionMountTmpfs, Path: mnt, Options: []string{"mode=755", "size=1m"}}
	for i := 0; i < 2; i++ { // the second apply must not stack a mount
		if err := ApplyPreSteps([]nspawnconv.PreStep{step}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if ms, _ := MountsUnder(mnt); len(ms) != 1 {
		t.Fatalf("mounts under %s: %v, want exactly one", mnt, ms)
	}
	if err := RemoveTree(dir); err == nil {
		t.Fatal("remove-tree went into a mounted directory")
	}
	for i := 0; i < 2; i++ {
		if err := RunAction(ActionUmount, []string{mnt}, nil); err != nil {
			t.Fatalf("umount #%d: %v", i, err)
		}
	}
	if err := RunAction(ActionRemoveTree, []string{dir}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists: %v", dir, err)
	}
	for _, bad := range [][]string{{"/"}, {"relative"}, {}} {
		if err := RunAction(ActionRemoveTree, bad, nil); err == nil {
			t.Errorf("remove-tree %q accepted", bad)
		}
	}
}

func TestShiftTree(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "suid")
	os.WriteFile(f, nil, 0o755)
	os.Lchown(f, 0, 5)
	unix.Chmod(f, 0o4755) // after chown, which clears it
	if err := ShiftTree(dir, 524288, 65536); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	unix.Lstat(f, &st)
	if st.Uid != 524288 || st.Gid != 524293 || st.Mode&0o7777 != 0o4755 {
		t.Errorf("after shift: uid %d gid %d mode %o", st.Uid, st.Gid, st.Mode&0o7777)
	}
}

// TestDelegateCgroups: name=systemd gets every file, cgroup2 only the
// delegation files (its memory.max stays root's), root cgroups nothing.
func TestDelegateCgroups(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	root := t.TempDir() // not a cgroup2 mount: the hybrid layout, unified/ below it
	files := map[string][]string{
		"systemd/m":  {"cgroup.procs", "tasks", "notify_on_release"},
		"unified/m":  {"cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "memory.max", "pids.max"},
		"unified/cg": {"cgroup.procs"},
	}
	for dir, names := range files {
		os.MkdirAll(filepath.Join(root, dir), 0o755)
		for _, n := range names {
			os.WriteFile(filepath.Join(root, dir, n), nil, 0o644)
		}
	}
	const uid = 524288
	if err := delegateCgroups(root, map[string]string{"name=systemd": "/m", "": "/m", "memory": "/m"}, uid); err != nil {
		t.Fatal(err)
	}
	want := map[string]uint32{"systemd/m": uid, "systemd/m/tasks": uid, "systemd/m/notify_on_release": uid,
		"unified/m": uid, "unified/m/cgroup.procs": uid, "unified/m/cgroup.threads": uid, "unified/m/cgroup.subtree_control": uid,
		"unified/m/memory.max": 0, "unified/m/pids.max": 0, "unified/cg/cgroup.procs": 0}
	for p, w := range want {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(root, p), &st); err != nil || st.Uid != w {
			t.Errorf("%s: owner %d (%v), want %d", p, st.Uid, err, w)
		}
	}
	if err := delegateCgroups(root, map[string]string{"name=systemd": "/", "": "/"}, uid); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"systemd", "unified"} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(root, d), &st); err != nil || st.Uid != 0 {
			t.Errorf("root cgroup %s given away: owner %d (%v)", d, st.Uid, err)
		}
	}
}

// TestMkdirReplacesSymlink: LinkJournal=host's mkdir replaces a link (left by
// LinkJournal=guest) with a directory of its own, as nspawn does; without
// Replace a link to a directory is left, and followed.
func TestMkdirReplacesSymlink(t *testing.T) {
	for _, replace := range []bool{true, false} {
		dir := t.TempDir()
		target := filepath.Join(dir, "guest-journal")
		link := filepath.Join(dir, "host-journal")
		if err := os.Mkdir(target, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if err := applyPreStep(nspawnconv.PreStep{Action: nspawnconv.ActionMkdir, Path: link, Mode: 0o2755, Replace: replace}); err != nil {
			t.Fatalf("replace=%v: %v", replace, err)
		}
		fi, err := os.Lstat(link)
		if err != nil {
			t.Fatal(err)
		}
		if isLink := fi.Mode()&os.ModeSymlink != 0; isLink == replace {
			t.Errorf("replace=%v: %s is a symlink: %v", replace, link, isLink)
		}
	}
}
