package nspawnconv

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hostUsers is a fake host account database for BindUser=.
var hostUsers = map[string]HostUser{
	"alice":  {Name: "alice", Group: "alice", UID: 1001, GID: 1001, Home: "/home/alice", HashedPassword: "$y$j9T$salt$hash"},
	"bob":    {Name: "bob", Group: "bob", UID: 1002, GID: 1002, Home: "/home/bob"},
	"root":   {Name: "root", Group: "root", UID: 0, GID: 0, Home: "/root"},
	"nobody": {Name: "nobody", Group: "nogroup", UID: 65534, GID: 65534, Home: "/nonexistent"},
	"shared": {Name: "shared", Group: "users", UID: 1003, GID: 100, Home: "/home/shared"},
	"inside": {Name: "inside", Group: "inside", UID: 524300, GID: 524300, Home: "/home/inside"},
	"web":    {Name: "web", Group: "web", UID: 1004, GID: 1004, Home: "/home/web"},
	"rel":    {Name: "rel", Group: "rel", UID: 1005, GID: 1005, Home: "home/rel"},
	"alias":  {Name: "alias", Group: "alias", UID: 1001, GID: 1006, Home: "/home/alias"},
}

func lookupFake(name string) (HostUser, error) {
	u, ok := hostUsers[name]
	if !ok {
		return HostUser{}, fmt.Errorf("host user: unknown user %s", name)
	}
	return u, nil
}

func convertBindUser(t *testing.T, extraPasswd string, args ...string) (*Conversion, error) {
	t.Helper()
	f := newFixture(t, "m")
	if extraPasswd != "" {
		p := filepath.Join(f.root, "etc/passwd")
		old, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, append(old, extraPasswd...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o := f.options()
	o.LookupUser = lookupFake
	return mustCLI(t, append([]string{"-D", f.root}, args...)...).ToSpec(o)
}

func TestBindUserMaps(t *testing.T) {
	const base = 524288
	cases := []struct {
		name   string
		passwd string // lines added to the image's /etc/passwd
		args   []string
		uids   []specs.LinuxIDMapping
		gids   []specs.LinuxIDMapping
		homes  []string
	}{
		{
			name:  "one user",
			args:  []string{"-U", "--private-users=524288:65536", "--bind-user=alice"},
			uids:  []specs.LinuxIDMapping{{ContainerID: 0, HostID: base, Size: 60514}, {ContainerID: 60514, HostID: 1001, Size: 1}, {ContainerID: 60515, HostID: base + 60515, Size: 65536 - 60515}},
			homes: []string{"/run/host/home/alice"},
		},
		{
			name:   "two users, first id taken in the image, repeated name bound once",
			passwd: "taken:x:60514:60514::/:/bin/sh\n",
			args:   []string{"--private-users=524288:65536", "--bind-user=alice", "--bind-user=bob", "--bind-user=alice"},
			uids: []specs.LinuxIDMapping{{ContainerID: 0, HostID: base, Size: 60515}, {ContainerID: 60515, HostID: 1001, Size: 1},
				{ContainerID: 60516, HostID: 1002, Size: 1}, {ContainerID: 60517, HostID: base + 60517, Size: 65536 - 60517}},
			homes: []string{"/run/host/home/alice", "/run/host/home/bob"},
		},
		{
			name:  "range ends right after the bound id",
			args:  []string{"--private-users=524288:60515", "--bind-user=bob"},
			uids:  []specs.LinuxIDMapping{{ContainerID: 0, HostID: base, Size: 60514}, {ContainerID: 60514, HostID: 1002, Size: 1}},
			homes: []string{"/run/host/home/bob"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := convertBindUser(t, tc.passwd, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if tc.gids == nil {
				tc.gids = tc.uids // the fake users' gids equal their uids
			}
			if l := c.Spec.Linux; !reflect.DeepEqual(l.UIDMappings, tc.uids) || !reflect.DeepEqual(l.GIDMappings, tc.gids) {
				t.Errorf("uid map %v gid map %v\nwant %v", l.UIDMappings, l.GIDMappings, tc.uids)
			}
			for _, h := range tc.homes {
				m := mountByDest(c.Spec, h)
				if m == nil || m.Source != "/home/"+filepath.Base(h) || m.Type != "bind" {
					t.Errorf("home mount %s: %+v", h, m)
				}
			}
			if i, j := mountIndex(c.Spec, "/run/host"), mountIndex(c.Spec, tc.homes[0]); i < 0 || j < i {
				t.Errorf("/run/host at %d must precede %s at %d", i, tc.homes[0], j)
			}
		})
	}
}

func mountIndex(s *specs.Spec, dst string) int {
	for i, m := range s.Mounts {
		if m.Destination == dst {
			return i
		}
	}
	return -1
}

// TestBindUserRecords checks the userdb records the pre-steps write: the
// JSON nss-systemd reads, the id links, the modes and the owner.
func TestBindUserRecords(t *testing.T) {
	c, err := convertBindUser(t, "", "--private-users=524288:65536", "--bind-user=alice", "--bind-user=bob")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]PreStep{}
	for _, st := range c.PreSteps {
		if strings.Contains(st.Path, "/run-host/userdb/") {
			files[filepath.Base(st.Path)] = st
		}
	}
	want := map[string]string{
		"alice.user":            `{"userName":"alice","uid":60514,"gid":60514,"homeDirectory":"/run/host/home/alice","service":"org.hull.nspawn"}`,
		"alice.group":           `{"groupName":"alice","gid":60514,"service":"org.hull.nspawn"}`,
		"alice.user-privileged": `{"privileged":{"hashedPassword":["$y$j9T$salt$hash"]}}`,
		"bob.user":              `{"userName":"bob","uid":60515,"gid":60515,"homeDirectory":"/run/host/home/bob","service":"org.hull.nspawn"}`,
		"bob.group":             `{"groupName":"bob","gid":60515,"service":"org.hull.nspawn"}`,
	}
	links := map[string]string{"60514.user": "alice.user", "60514.group": "alice.group", "60514.user-privileged": "alice.user-privileged",
		"60515.user": "bob.user", "60515.group": "bob.group"}
	if len(files) != len(want)+len(links) {
		t.Errorf("userdb files %v", keys(files))
	}
	for name, data := range want {
		st := files[name]
		var any map[string]any
		if st.Action != ActionWriteFile || strings.TrimSuffix(st.Data, "\n") != data || json.Unmarshal([]byte(st.Data), &any) != nil || st.Owner != 524288 {
			t.Errorf("%s: %+v, want data %s owned by 524288", name, st, data)
		}
		wantMode := uint32(0o644)
		if strings.HasSuffix(name, "-privileged") {
			wantMode = 0o600
		}
		if st.Mode != wantMode {
			t.Errorf("%s: mode %o, want %o", name, st.Mode, wantMode)
		}
	}
	for name, target := range links {
		if st := files[name]; st.Action != ActionSymlink || st.Source != target {
			t.Errorf("%s: %+v, want a link to %s", name, st, target)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestBindUserRefusals(t *testing.T) {
	cases := []struct {
		args   []string
		passwd string
		reason string
	}{
		{[]string{"--bind-user=alice"}, "", "needs PrivateUsers="},
		{[]string{"-U", "--private-users=identity", "--bind-user=alice"}, "", "inside the container's range"},
		{[]string{"--private-users=524288", "--bind-user=root"}, "", "root"},
		{[]string{"--private-users=524288", "--bind-user=nobody"}, "", "nobody"},
		{[]string{"--private-users=524288", "--bind-user=shared"}, "", `primary group "users"`},
		{[]string{"--private-users=524288", "--bind-user=inside"}, "", "inside the container's range"},
		{[]string{"--private-users=524288", "--bind-user=web"}, "", `user "web" (in /etc/passwd)`},
		{[]string{"--private-users=524288", "--bind-user=rel"}, "", "not absolute"},
		{[]string{"--private-users=524288", "--bind-user=alice", "--bind-user=alias"}, "", "already bound as alice"},
		{[]string{"--private-users=524288:60514", "--bind-user=alice"}, "", "no free container id"},
		{[]string{"--private-users=524288", "--bind-user=alice"}, "a:x:60514:1::/:/bin/sh\nb:x:60515:1::/:/bin/sh\n" + idLines(60516, 60577), "no free container id"},
	}
	for _, tc := range cases {
		_, err := convertBindUser(t, tc.passwd, tc.args...)
		var re *RefusedError
		if !errors.As(err, &re) || !strings.HasPrefix(re.Key, "BindUser=") || !strings.Contains(re.Reason, tc.reason) {
			t.Errorf("%q: err %v, want a BindUser= refusal saying %q", tc.args, err, tc.reason)
		}
	}
	if _, err := convertBindUser(t, "", "--private-users=524288", "--bind-user=mallory"); err == nil || !strings.Contains(err.Error(), "BindUser=mallory") || !strings.Contains(err.Error(), "unknown user") {
		t.Errorf("unknown host user: %v", err)
	}
}

func idLines(from, to int) string {
	var b strings.Builder
	for id := from; id <= to; id++ {
		fmt.Fprintf(&b, "u%d:x:%d:1::/:/bin/sh\n", id, id)
	}
	return b.String()
}

func TestShadowHash(t *testing.T) {
	p := filepath.Join(t.TempDir(), "shadow")
	data := "root:*:19000:0:99999:7:::\nalice:$y$j9T$salt$hash:19000:0:99999:7:::\nlocked:!$y$x$y:19000::::::\nempty::19000::::::\n"
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"alice": "$y$j9T$salt$hash", "root": "", "locked": "", "empty": "", "absent": ""} {
		if got, err := shadowHash(p, name); err != nil || got != want {
			t.Errorf("%s: %q (%v), want %q", name, got, err, want)
		}
	}
	if got, err := shadowHash(filepath.Join(t.TempDir(), "none"), "alice"); err != nil || got != "" {
		t.Errorf("missing shadow file: %q %v", got, err)
	}
}
