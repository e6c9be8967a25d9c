package criu

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDumpArgs(t *testing.T) {
	base := Options{ImagesDir: "/img"}
	cases := []struct {
		name string
		d    Dump
		want string
	}{
		{"plain", Dump{Options: base, Pid: 42},
			"dump --images-dir /img --work-dir /img --log-file dump.log -v4 --empty-ns net --manage-cgroups --tree 42"},
		{"every flag", Dump{Options: Options{ImagesDir: "/img", WorkDir: "/work", TCPEstablished: true, ExtUnixSk: true,
			ShellJob: true, FileLocks: true, AutoDedup: true, ManageCgroupsMode: "full"}, Pid: 7, LeaveRunning: true,
			FreezeCgroup: "/sys/fs/cgroup/hull/c1"},
			"dump --images-dir /img --work-dir /work --log-file dump.log -v4 --tcp-established --ext-unix-sk --shell-job --file-locks --auto-dedup --empty-ns net --manage-cgroups=full --tree 7 --leave-running --freeze-cgroup /sys/fs/cgroup/hull/c1"},
		{"bind mounts and a joined netns", Dump{Options: Options{ImagesDir: "/img", NetnsKey: "extRootNetNS",
			BindMounts: []BindMount{{"/data", "/srv/data"}, {"/etc/hosts", "/b/hosts"}}}, Pid: 1, NetnsInode: 4026532000},
			"dump --images-dir /img --work-dir /img --log-file dump.log -v4 --empty-ns net --manage-cgroups --tree 1 --external mnt[/data]:/data --external mnt[/etc/hosts]:/etc/hosts --external net[4026532000]:extRootNetNS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(tc.d.Args(), " "); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestRestoreArgs(t *testing.T) {
	r := Restore{
		Options: Options{ImagesDir: "/img", WorkDir: "/work", FileLocks: true, ManageCgroupsMode: "soft",
			BindMounts: []BindMount{{"/data", "/srv/data"}}},
		Root: "/tmp/root", CgroupRoot: "/hull/c1", PidFile: "/run/hull/c1/restore.pid",
		InheritFDs: map[int]string{3: "extRootNetNS", 1: "pipe:[77]", 0: "pipe:[76]"},
		JoinNS:     []string{"ipc:/proc/9/ns/ipc", "uts:/run/uts"}, ActionScript: "/usr/bin/hull",
	}
	want := "restore --images-dir /img --work-dir /work --log-file restore.log -v4 --file-locks --empty-ns net --manage-cgroups=soft" +
		" --root /tmp/root --restore-detached --restore-sibling --pidfile /run/hull/c1/restore.pid --cgroup-root /hull/c1" +
		" --external mnt[/data]:/srv/data --join-ns ipc:/proc/9/ns/ipc --join-ns uts:/run/uts --action-script /usr/bin/hull" +
		" --inherit-fd fd[0]:pipe:[76] --inherit-fd fd[1]:pipe:[77] --inherit-fd fd[3]:extRootNetNS"
	if got := strings.Join(r.Args(), " "); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestStdioToInherit(t *testing.T) {
	cases := []struct {
		in   []string
		want map[int]string
	}{
		{nil, map[int]string{}},
		{[]string{"/dev/null", "pipe:[10]", "socket:[11]"}, map[int]string{1: "pipe:[10]", 2: "socket:[11]"}},
		{[]string{"pipe:[1]", "/dev/pts/0", "anon_inode:[eventfd]", "pipe:[9]"}, map[int]string{0: "pipe:[1]"}},
	}
	for _, tc := range cases {
		got := StdioToInherit(tc.in)
		if len(got) != len(tc.want) {
			t.Errorf("%q: got %v, want %v", tc.in, got, tc.want)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%q: got %v, want %v", tc.in, got, tc.want)
			}
		}
	}
}

func TestDescriptorsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if d, err := LoadDescriptors(dir); err != nil || d != nil {
		t.Fatalf("an image without the record: %q, %v; want none", d, err)
	}
	own, err := ReadDescriptors(os.Getpid())
	if err != nil || len(own) != 3 {
		t.Fatalf("this process's stdio: %q, %v", own, err)
	}
	if err := WriteDescriptors(dir, own); err != nil {
		t.Fatal(err)
	}
	back, err := LoadDescriptors(dir)
	if err != nil || !slices.Equal(back, own) {
		t.Errorf("read back %q, %v; want %q", back, err, own)
	}
	os.WriteFile(filepath.Join(dir, DescriptorsFile), []byte("{"), 0o600)
	if _, err := LoadDescriptors(dir); err == nil || !strings.Contains(err.Error(), DescriptorsFile) {
		t.Errorf("a broken record: %v, want an error naming it", err)
	}
}

// TestRunFailures: a missing criu is named with what to do; a failing one
// points at its log and quotes the log's last errors.
func TestRunFailures(t *testing.T) {
	err := Run("/nonexistent/criu", []string{"dump"}, nil, t.TempDir(), nil)
	if err == nil || !strings.Contains(err.Error(), "install the criu package") {
		t.Errorf("missing criu: %v", err)
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, "criu")
	script := "#!/bin/sh\nprintf 'x\\n(00.1) Error (a.c:1): first\\nok\\n(00.2) Error (b.c:2): Dumping FAILED.\\n' > \"$5/dump.log\"\nexit 1\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	d := Dump{Options: Options{ImagesDir: dir}, Pid: 1}
	err = Run(fake, d.Args(), nil, d.LogDir(), nil)
	want := "see " + filepath.Join(dir, "dump.log") + ": (00.1) Error (a.c:1): first; (00.2) Error (b.c:2): Dumping FAILED."
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("failing criu: %v\nwant it to contain %q", err, want)
	}
}

func TestCheckManageCgroupsMode(t *testing.T) {
	for _, m := range []string{"", "soft", "full", "strict", "ignore"} {
		if err := CheckManageCgroupsMode(m); err != nil {
			t.Errorf("%q: %v", m, err)
		}
	}
	for _, m := range []string{"bogus", "Soft", "none"} {
		if err := CheckManageCgroupsMode(m); err == nil || !strings.Contains(err.Error(), `"`+m+`"`) {
			t.Errorf("%q: %v, want an error naming it", m, err)
		}
	}
}

// TestRunGivesEnv: criu gets the caller's environment with env added (the
// restore's hooks file reaches criu's action script so).
func TestRunGivesEnv(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "criu")
	out := filepath.Join(dir, "env")
	script := "#!/bin/sh\necho \"$HULL_TEST_GIVEN $PATH\" > " + out + "\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Run(fake, []string{"restore"}, []string{"HULL_TEST_GIVEN=yes"}, dir, nil); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if want := "yes " + os.Getenv("PATH") + "\n"; string(got) != want {
		t.Errorf("criu's environment: %q, want %q", got, want)
	}
}
