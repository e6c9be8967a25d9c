package nspawnconv

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// convertCLI converts nspawn flags for the fixture's image.
func convertCLI(t *testing.T, f fixture, args ...string) (*Conversion, error) {
	t.Helper()
	return mustCLI(t, append([]string{"-D", f.root}, args...)...).ToSpec(f.options())
}

// TestDeviceRulesNoHostConsole: the allow list is DevicePolicy=closed's
// auto set plus nspawn's DeviceAllow= entries; never c 5:1 (the host's
// console: nspawn's /dev/console is a pty, char-pts).
func TestDeviceRulesNoHostConsole(t *testing.T) {
	f := newFixture(t, "dev")
	c, err := convertCLI(t, f, "-b")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range c.Spec.Linux.Resources.Devices {
		got = append(got, ruleString(r))
	}
	want := []string{"deny a *:* rwm", "allow c 1:3 rwm", "allow c 1:5 rwm", "allow c 1:7 rwm", "allow c 1:8 rwm",
		"allow c 1:9 rwm", "allow c 5:0 rwm", "allow c 5:2 rwm", "allow c 136:* rw", "allow c 10:200 rwm"}
	if !slices.Equal(got, want) {
		t.Errorf("device rules\n got %q\nwant %q", got, want)
	}
}

func ruleString(r specs.LinuxDeviceCgroup) string {
	n := func(p *int64) string {
		if p == nil {
			return "*"
		}
		return strconv.FormatInt(*p, 10)
	}
	typ := r.Type
	if typ == "" {
		typ = "a"
	}
	return map[bool]string{true: "allow", false: "deny"}[r.Allow] + " " + typ + " " + n(r.Major) + ":" + n(r.Minor) + " " + r.Access
}

// TestBindReadOnlyRecursive: BindReadOnly= is nspawn's
// bind_remount_recursive(MS_RDONLY): a recursive bind gets "rro" so the
// source's submounts are read-only too.
func TestBindReadOnlyRecursive(t *testing.T) {
	for _, tc := range []struct {
		file, arg string
		want      []string
	}{
		{"", "--bind-ro=/srv/a:/a", []string{"rbind", "ro", "rro"}},
		{"", "--bind-ro=/srv/a:/a:rbind", []string{"rbind", "ro", "rro"}},
		{"", "--bind-ro=/srv/a:/a:norbind", []string{"bind", "ro"}},
		{"", "--bind=/srv/a:/a", []string{"rbind"}},
		{"[Files]\nBindReadOnly=/srv/a:/a\n", "", []string{"rbind", "ro", "rro"}},
	} {
		f := newFixture(t, "ro")
		s := mustCLI(t, "-D", f.root)
		if tc.arg != "" {
			s = mustCLI(t, "-D", f.root, tc.arg)
		}
		if tc.file != "" {
			s, _ = Merge(s, mustParse(t, tc.file), true)
		}
		c, err := s.ToSpec(f.options())
		if err != nil {
			t.Fatalf("%q%q: %v", tc.file, tc.arg, err)
		}
		if m := mountByDest(c.Spec, "/a"); m == nil || !slices.Equal(m.Options, tc.want) {
			t.Errorf("%q%q: mount %+v, want options %q", tc.file, tc.arg, m, tc.want)
		}
	}
}

// TestCustomMountOrder: nspawn sorts custom mounts with
// custom_mount_compare: path_compare() on the destination, then the kind
// (bind, tmpfs, overlay); ties keep their order.
func TestCustomMountOrder(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string // destination and type, in mount order
	}{
		{[]string{"--bind-ro=/srv/ro:/srv/ro", "--bind=/srv:/srv"}, []string{"/srv bind", "/srv/ro bind"}},
		{[]string{"--tmpfs=/srv/ro", "--bind=/srv:/srv"}, []string{"/srv bind", "/srv/ro tmpfs"}},
		{[]string{"--overlay=/l:/u:/srv", "--tmpfs=/srv", "--bind=/x:/srv"}, []string{"/srv bind", "/srv tmpfs", "/srv overlay"}},
		{[]string{"--bind=/x:/a-b", "--bind=/x:/a/b", "--bind=/x:/a"}, []string{"/a bind", "/a/b bind", "/a-b bind"}},
		{[]string{"--bind=/x:/aaa", "--bind=/x:/a/./z", "--bind=/x://a"}, []string{"//a bind", "/a/./z bind", "/aaa bind"}},
	} {
		f := newFixture(t, "order")
		c, err := convertCLI(t, f, tc.args...)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		var got []string
		for _, m := range c.Spec.Mounts {
			if m.Source == "/x" || strings.HasPrefix(m.Destination, "/srv") || strings.HasPrefix(m.Destination, "/a") {
				got = append(got, m.Destination+" "+m.Type)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: order %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestPathCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		sign int
	}{
		{"/srv", "/srv/ro", -1}, {"/srv/ro", "/srv", 1}, {"/srv", "//srv/", 0}, {"/a/./b", "/a/b", 0},
		{"/a/b", "/a-b", -1}, {"/foo/a", "/foo/aaa", -1}, {"/foo/aaa", "/foo/b", -1}, {"/", "/a", -1},
	} {
		got := pathCompare(tc.a, tc.b)
		if (got < 0 && tc.sign >= 0) || (got > 0 && tc.sign <= 0) || (got == 0 && tc.sign != 0) {
			t.Errorf("pathCompare(%q, %q) = %d, want sign %d", tc.a, tc.b, got, tc.sign)
		}
	}
}

// TestMountEscapes: a backslash escapes the next byte in every path word
// (nspawn's extract_first_word), and overlay paths are written with ':',
// ',' and '\' escaped for the kernel (nspawn's shell_escape(",:")).
func TestMountEscapes(t *testing.T) {
	for _, tc := range []struct {
		arg, dest string
		check     func(m *specs.Mount) bool
	}{
		{`--tmpfs=/foo\:bar:mode=0700`, "/foo:bar", func(m *specs.Mount) bool {
			return slices.Equal(m.Options, []string{"mode=0700", "nodev", "strictatime"})
		}},
		{`--tmpfs=/foo\:bar`, "/foo:bar", func(m *specs.Mount) bool { return m.Options[0] == "mode=0755" }},
		{`--bind=/src\:x:/dst\:y`, "/dst:y", func(m *specs.Mount) bool { return m.Source == "/src:x" }},
		{`--overlay=/lo\:w:/lo\,2:/up\:z:/ov`, "/ov", func(m *specs.Mount) bool {
			return slices.Equal(m.Options[:2], []string{`lowerdir=/lo\,2:/lo\:w`, `upperdir=/up\:z`}) &&
				m.Options[2] == `workdir=/.#up\:z.hull-work`
		}},
		{`--overlay-ro=/a\\b:/c\:d:/ro`, "/ro", func(m *specs.Mount) bool {
			return slices.Equal(m.Options, []string{`lowerdir=/c\:d:/a\\b`, "ro"})
		}},
	} {
		f := newFixture(t, "esc")
		c, err := convertCLI(t, f, tc.arg)
		if err != nil {
			t.Fatalf("%s: %v", tc.arg, err)
		}
		if m := mountByDest(c.Spec, tc.dest); m == nil || !tc.check(m) {
			t.Errorf("%s: mount at %q: %+v", tc.arg, tc.dest, m)
		}
	}
	for _, bad := range []string{`--tmpfs=/foo\`, `--bind=/a\`} {
		if _, err := ParseCommandLine([]string{bad}, nil); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestPickUIDBase: nspawn 252 reads the tree owner's 64K base as
// uid_shift_pick()'s first candidate only; it must lie in
// 0x80000…0x6FFF0000 and be unused, else the machine name's hash is tried.
func TestPickUIDBase(t *testing.T) {
	hashed := hashUIDBase("pick", 0)
	for _, tc := range []struct {
		name     string
		uid, gid int
		inUse    []uint32
		want     uint32
		refused  bool
	}{
		{"unshifted tree", 0, 0, nil, hashed, false},
		{"shifted tree in range", 0x90000, 0x90000, nil, 0x90000, false},
		{"owner inside a range", 0x90005, 0x90005, nil, 0x90000, false},
		{"below the pick range", 65536, 65536, nil, hashed, false},
		{"above the pick range", 0x70000000, 0x70000000, nil, hashed, false},
		{"owner's range in use", 0x90000, 0x90000, []uint32{0x90000}, hashed, false},
		{"hash in use too", 0, 0, []uint32{hashed}, hashUIDBase("pick", 1), false},
		{"uid and gid base differ", 0x90000, 0xA0000, nil, 0, true},
	} {
		f := newFixture(t, "pick")
		if err := os.Chown(f.root, tc.uid, tc.gid); err != nil {
			t.Fatal(err)
		}
		o := f.options()
		o.UIDRangeInUse = func(b uint32) bool { return slices.Contains(tc.inUse, b) }
		c, err := mustCLI(t, "-D", f.root, "-U").ToSpec(o)
		if tc.refused {
			if err == nil || !strings.Contains(err.Error(), "PrivateUsers=pick") {
				t.Errorf("%s: err %v, want a PrivateUsers=pick refusal", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := c.Spec.Linux.UIDMappings[0].HostID; got != tc.want || got < pickMin || got > pickMax {
			t.Errorf("%s: base %#x, want %#x", tc.name, got, tc.want)
		}
	}
}

// TestBindRootRefused: a Bind= onto "/" would hide the image behind a host
// directory; refused naming the setting and the value.
func TestBindRootRefused(t *testing.T) {
	for _, args := range [][]string{{"--bind=/tmp:/"}, {"--bind-ro=/tmp://"}, {"--bind=/"}} {
		_, err := ParseCommandLine(args, nil)
		if err == nil || !strings.Contains(err.Error(), args[0]) || !strings.Contains(err.Error(), "root directory") {
			t.Errorf("%q: err %v", args, err)
		}
	}
	_, _, err := ParseSettings(strings.NewReader("[Files]\nBind=/tmp:/\n"), "m.nspawn")
	if err == nil || !strings.Contains(err.Error(), "m.nspawn:2") || !strings.Contains(err.Error(), "Bind=/tmp:/") {
		t.Errorf("file: err %v", err)
	}
}

// TestRefusalNamesOrigin: refusals raised after parsing name the file and
// line (when the setting came from a file), the setting and its value.
func TestRefusalNamesOrigin(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "web.nspawn")
	for _, tc := range []struct {
		file string
		args []string
		want []string
	}{
		{"[Exec]\nBoot=yes\nAmbientCapability=CAP_NET_RAW\n", nil, []string{file + ":3: AmbientCapability=CAP_NET_RAW: cannot be combined with Boot="}},
		{"", []string{"-b", "--ambient-capability=CAP_NET_RAW"}, []string{"AmbientCapability=CAP_NET_RAW: cannot be combined"}},
		{"[Files]\nBind=/a:/b\nBind=/c:/d:idmap\n", nil, []string{file + ":3: Bind=/c:/d:idmap: idmapped binds need PrivateUsers="}},
		{"[Files]\nPrivateUsersOwnership=map\n", nil, []string{file + ":2: PrivateUsersOwnership=map:"}},
		{"", []string{"-b", "-a"}, []string{"ProcessTwo=yes: cannot be combined with Boot="}},
	} {
		f := newFixture(t, "orig")
		s := mustCLI(t, append([]string{"-D", f.root}, tc.args...)...)
		if tc.file != "" {
			fs, _, err := ParseSettings(strings.NewReader(tc.file), file)
			if err != nil {
				t.Fatal(err)
			}
			s, _ = Merge(s, fs, true)
		}
		_, err := s.ToSpec(f.options())
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%q %q: err %v, want it to say %q", tc.file, tc.args, err, w)
			}
		}
	}
}
