package nspawnconv

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const privFile = `[Exec]
Boot=yes
Environment=FROM=file
Capability=CAP_SYS_TIME
DropCapability=CAP_SYS_PTRACE
Hostname=filehost
LimitNOFILE=100
SystemCallFilter=ptrace
SystemCallFilter=~kexec_load
[Files]
Bind=/srv
ReadOnly=yes
[Network]
Private=yes
Port=80
`

func mustParse(t *testing.T, in string) *Settings {
	t.Helper()
	s, _, err := ParseSettings(strings.NewReader(in), "m.nspawn")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustCLI(t *testing.T, args ...string) *Settings {
	t.Helper()
	s, err := ParseCommandLine(args, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMergeTrustRule(t *testing.T) {
	file := mustParse(t, privFile)
	untrusted, warns := Merge(mustCLI(t, "-D", "/m/x"), file, false)
	if !untrusted.Boot || untrusted.Hostname != "filehost" || !untrusted.ReadOnly || !reflect.DeepEqual(untrusted.Environment, []string{"FROM=file"}) {
		t.Errorf("unprivileged settings lost: %+v", untrusted)
	}
	if untrusted.Capability != nil || !reflect.DeepEqual(untrusted.DropCapability, []string{"CAP_SYS_PTRACE"}) {
		t.Errorf("caps: add %v drop %v; want no additions, drop kept", untrusted.Capability, untrusted.DropCapability)
	}
	if untrusted.SyscallAllow != nil || !reflect.DeepEqual(untrusted.SyscallDeny, []string{"kexec_load"}) {
		t.Errorf("syscalls: allow %v deny %v", untrusted.SyscallAllow, untrusted.SyscallDeny)
	}
	if untrusted.Binds != nil || untrusted.PrivateNetwork || untrusted.Ports != nil || untrusted.Rlimits != nil {
		t.Errorf("privileged settings applied from untrusted file: %+v", untrusted)
	}
	if len(warns) != 6 {
		t.Errorf("warnings %q, want 6", warns)
	}
	for _, trusted := range []*Settings{mergeT(t, mustCLI(t), file, true), mergeT(t, mustCLI(t, "--settings=trusted"), file, false)} {
		if len(trusted.Binds) != 1 || !trusted.PrivateNetwork || len(trusted.Ports) != 1 || trusted.Rlimits["RLIMIT_NOFILE"].Soft != 100 ||
			!reflect.DeepEqual(trusted.Capability, []string{"CAP_SYS_TIME"}) || !reflect.DeepEqual(trusted.SyscallAllow, []string{"ptrace"}) {
			t.Errorf("trusted merge lost settings: %+v", trusted)
		}
	}
}

func mergeT(t *testing.T, cli, file *Settings, trusted bool) *Settings {
	t.Helper()
	s, _ := Merge(cli, file, trusted)
	return s
}

func TestMergePrecedence(t *testing.T) {
	file := mustParse(t, privFile)
	cli := mustCLI(t, "--hostname=clihost", "--bind=/cli", "-E", "FROM=cli", "/bin/true")
	got := mergeT(t, cli, file, true)
	if got.Hostname != "clihost" || len(got.Binds) != 1 || got.Binds[0].Source != "/cli" || got.Environment[0] != "FROM=cli" {
		t.Errorf("CLI did not win: %+v", got)
	}
	if !got.Boot || !got.PrivateNetwork || !reflect.DeepEqual(got.Parameters, []string{"/bin/true"}) {
		t.Errorf("file settings not merged: %+v", got)
	}
	cli = mustCLI(t, "--settings=override", "--hostname=clihost", "--bind=/cli", "--machine=m")
	got = mergeT(t, cli, file, true)
	if got.Hostname != "filehost" || got.Binds[0].Source != "/srv" || got.Machine != "m" {
		t.Errorf("override: file did not win: %+v", got)
	}
	got = mergeT(t, mustCLI(t, "--settings=no"), file, true)
	if got.Boot || got.Hostname != "" {
		t.Errorf("--settings=no still applied the file: %+v", got)
	}
	// The CLI's -U shadows both user-namespace groups.
	got = mergeT(t, mustCLI(t, "-U"), mustParse(t, "[Exec]\nPrivateUsers=no\n[Files]\nPrivateUsersOwnership=off\n"), true)
	if got.PrivateUsers.Mode != UserNSPick || got.PrivateUsersOwnership != "auto" {
		t.Errorf("-U lost: %+v", got.PrivateUsers)
	}
}

func TestFindSettingsFile(t *testing.T) {
	base := t.TempDir()
	etc, run, images := filepath.Join(base, "etc"), filepath.Join(base, "run"), filepath.Join(base, "machines")
	for _, d := range []string{etc, run, images} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	roots := SearchRoots{Trusted: []string{etc, run}}
	write := func(p string) {
		if err := os.WriteFile(p, []byte("[Exec]\nBoot=yes\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	check := func(wantPath string, wantTrusted bool) {
		t.Helper()
		p, tr, err := roots.Find("foo", images)
		if err != nil || p != wantPath || tr != wantTrusted {
			t.Errorf("Find = %q %v %v; want %q %v", p, tr, err, wantPath, wantTrusted)
		}
	}
	check("", false)
	write(filepath.Join(images, "foo.nspawn"))
	check(filepath.Join(images, "foo.nspawn"), false)
	write(filepath.Join(run, "foo.nspawn"))
	check(filepath.Join(run, "foo.nspawn"), true)
	write(filepath.Join(etc, "foo.nspawn"))
	check(filepath.Join(etc, "foo.nspawn"), true)
	if _, _, err := roots.Find("../x", images); err == nil {
		t.Error("path-like machine name accepted")
	}
	if err := os.Mkdir(filepath.Join(images, "dir.nspawn"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := roots.Find("dir", images); err == nil {
		t.Error("directory accepted as settings file")
	}

	// Load: the untrusted file next to the image is found from -D.
	if err := os.WriteFile(filepath.Join(images, "bar.nspawn"), []byte("[Exec]\nBoot=yes\n[Files]\nBind=/srv\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, warns, err := Load([]string{"-D", filepath.Join(images, "bar")}, nil, roots)
	if err != nil || !s.Boot || s.Binds != nil || len(warns) != 1 {
		t.Errorf("Load: %+v %q %v", s, warns, err)
	}
	s, _, err = Load([]string{"-D", filepath.Join(images, "bar"), "--settings=trusted"}, nil, roots)
	if err != nil || len(s.Binds) != 1 {
		t.Errorf("Load trusted: %+v %v", s, err)
	}
}

func TestTrustByLocation(t *testing.T) {
	base := t.TempDir()
	etc, images, link := filepath.Join(base, "etc"), filepath.Join(base, "images"), filepath.Join(base, "etc-link")
	for _, d := range []string{etc, images} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(etc, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(etc, "m.nspawn"), filepath.Join(images, "m.nspawn")} {
		if err := os.WriteFile(p, []byte("[Exec]\nCapability=CAP_SYS_TIME\n[Network]\nPort=8080:80\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(images, "m.nspawn"), filepath.Join(etc, "linked.nspawn")); err != nil {
		t.Fatal(err)
	}
	roots := SearchRoots{Trusted: []string{etc}}
	cases := map[string]bool{
		filepath.Join(etc, "m.nspawn"):           true,
		filepath.Join(link, "m.nspawn"):          true, // the directory is the trusted one
		filepath.Join(etc, "linked.nspawn"):      true, // found in the trusted directory, as nspawn would
		filepath.Join(images, "m.nspawn"):        false,
		filepath.Join(etc, "../images/m.nspawn"): false,
	}
	for p, want := range cases {
		if got, err := roots.Trusts(p); err != nil || got != want {
			t.Errorf("Trusts(%s) = %v, %v; want %v", p, got, err, want)
		}
	}
	file, _, err := ParseFile(filepath.Join(images, "m.nspawn"))
	if err != nil {
		t.Fatal(err)
	}
	cli := mustCLIArgs(t, "-D", "/srv/m")
	s, warns := MergeFile(cli, file, filepath.Join(images, "m.nspawn"), false)
	if len(s.Capability) != 0 || len(s.Ports) != 0 || len(warns) != 2 ||
		!strings.Contains(strings.Join(warns, "\n"), "Capability=") || !strings.Contains(strings.Join(warns, "\n"), "Port=") ||
		!strings.Contains(warns[0], filepath.Join(images, "m.nspawn")) {
		t.Errorf("untrusted: caps %v ports %v warnings %q", s.Capability, s.Ports, warns)
	}
	trusted := mustCLIArgs(t, "-D", "/srv/m", "--settings=trusted")
	if s, warns := MergeFile(trusted, file, filepath.Join(images, "m.nspawn"), false); len(s.Capability) != 1 || len(s.Ports) != 1 || len(warns) != 0 {
		t.Errorf("--settings=trusted: caps %v ports %v warnings %q", s.Capability, s.Ports, warns)
	}
}

func mustCLIArgs(t *testing.T, args ...string) *Settings {
	t.Helper()
	s, err := ParseCommandLine(args, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// An untrusted file's warnings name each privileged key the file gave, and
// only those.
func TestUntrustedWarningsNameEachKey(t *testing.T) {
	tests := []struct {
		file string
		want []string // keys named, in order
	}{
		{"[Exec]\nCapability=CAP_NET_ADMIN\n", []string{"Capability"}},
		{"[Exec]\nCapability=CAP_NET_ADMIN\nDropCapability=CAP_SYS_PTRACE\n", []string{"Capability"}},
		{"[Exec]\nDropCapability=CAP_SYS_PTRACE\n", nil},
		{"[Files]\nBind=/srv\nBindReadOnly=/etc\nBind=/opt\n", []string{"Bind", "BindReadOnly"}},
		{"[Files]\nTemporaryFileSystem=/tmp\nOverlay=/a:/b\n", []string{"TemporaryFileSystem", "Overlay"}},
		{"[Network]\nPrivate=yes\nVirtualEthernet=yes\n", []string{"Private", "VirtualEthernet"}},
		{"[Network]\nPort=80\n", []string{"Port"}},
		{"[Exec]\nLimitNOFILE=100\nOOMScoreAdjust=5\nCPUAffinity=0\nMachineID=0123456789abcdef0123456789abcdef\n",
			[]string{"LimitNOFILE", "MachineID", "OOMScoreAdjust", "CPUAffinity"}},
		{"[Exec]\nPrivateUsers=pick\n[Files]\nPrivateUsersOwnership=chown\n", []string{"PrivateUsers", "PrivateUsersOwnership"}},
		{"[Exec]\nHostname=h\nBoot=yes\n", nil},
	}
	for _, tc := range tests {
		file, _, err := ParseSettings(strings.NewReader(tc.file), "t.nspawn")
		if err != nil {
			t.Fatalf("%q: %v", tc.file, err)
		}
		_, warns := Merge(mustCLI(t, "-D", "/m/x"), file, false)
		var got []string
		for _, w := range warns {
			k, ok := strings.CutPrefix(w, "ignoring ")
			k, ok2 := strings.CutSuffix(k, "= from untrusted settings file")
			if !ok || !ok2 {
				t.Fatalf("%q: warning %q not of the form 'ignoring KEY= from untrusted settings file'", tc.file, w)
			}
			got = append(got, k)
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(tc.want))
		if !slices.Equal(got, want) {
			t.Errorf("%q: warnings name %q, want %q", tc.file, got, want)
		}
		if _, w := Merge(mustCLI(t, "-D", "/m/x"), file, true); len(w) != 0 {
			t.Errorf("%q: trusted file warned %q", tc.file, w)
		}
	}
}
