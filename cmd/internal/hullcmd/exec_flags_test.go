package hullcmd

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
)

// execBaseSpec is a container's config as exec starts from it: a process
// with no_new_privs, an inheritable capability and additional gids.
func execBaseSpec() *specs.Spec {
	return &specs.Spec{Process: &specs.Process{
		Args: []string{"sleep", "60"}, Cwd: "/", NoNewPrivileges: true,
		User: specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{10}},
		Env:  []string{"PATH=/bin"},
		Capabilities: &specs.LinuxCapabilities{
			Bounding: []string{"CAP_CHOWN"}, Effective: []string{"CAP_CHOWN"},
			Permitted: []string{"CAP_CHOWN"}, Inheritable: []string{"CAP_KILL"},
		},
	}}
}

// runExecFlags parses args (flags, id, command) with exec's flags and
// returns what execProcess makes of them against spec.
func runExecFlags(t *testing.T, spec *specs.Spec, args ...string) (*specs.Process, error) {
	t.Helper()
	var p *specs.Process
	var perr error
	parseWith(t, execCommand(), args, func(c *cli.Context) { p, perr = execProcess(c, spec) })
	return p, perr
}

// parseWith parses args (what follows the command's name) with cmd's
// flags alone and hands the context to got.
func parseWith(t *testing.T, cmd *cli.Command, args []string, got func(*cli.Context)) {
	t.Helper()
	app := &cli.App{
		Writer: io.Discard, ErrWriter: io.Discard,
		Commands: []*cli.Command{{
			Name:  cmd.Name,
			Flags: cmd.Flags,
			Action: func(c *cli.Context) error {
				got(c)
				return nil
			},
		}},
	}
	if err := app.Run(append([]string{"hull", cmd.Name}, args...)); err != nil {
		t.Fatalf("%q: flags not parsed: %v", args, err)
	}
}

// TestExecFlagsProcess: each flag changes only its field of the
// container's process, as runc 1.1.5's exec does.
func TestExecFlagsProcess(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		edit func(p *specs.Process) // the container's process, edited to what is wanted
	}{
		{"no flags", nil, func(p *specs.Process) {}},
		{"cap adds to ambient, not inheritable", []string{"--cap", "CAP_KILL", "--cap", "net_raw"}, func(p *specs.Process) {
			c := p.Capabilities
			c.Bounding = append(c.Bounding, "CAP_KILL", "CAP_NET_RAW")
			c.Effective = append(c.Effective, "CAP_KILL", "CAP_NET_RAW")
			c.Permitted = append(c.Permitted, "CAP_KILL", "CAP_NET_RAW")
			c.Ambient = []string{"CAP_KILL", "CAP_NET_RAW"}
		}},
		{"absolute cwd", []string{"--cwd", "/etc"}, func(p *specs.Process) { p.Cwd = "/etc" }},
		{"no-new-privs not given keeps the config's", []string{"--cwd", "/"}, func(p *specs.Process) {}},
		{"no-new-privs=false lifts it", []string{"--no-new-privs=false"}, func(p *specs.Process) { p.NoNewPrivileges = false }},
		{"no-new-privs", []string{"--no-new-privs"}, func(p *specs.Process) {}},
		{"user uid alone keeps the gid", []string{"-u", "1000"}, func(p *specs.Process) { p.User.UID = 1000 }},
		{"user largest ids", []string{"-u", "2147483647:2147483647"}, func(p *specs.Process) {
			p.User.UID, p.User.GID = 2147483647, 2147483647
		}},
		{"additional gids appended", []string{"-g", "0", "-g", "2147483647"}, func(p *specs.Process) {
			p.User.AdditionalGids = []uint32{10, 0, 2147483647}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := execBaseSpec()
			got, err := runExecFlags(t, spec, append(tc.args, "id", "true")...)
			if err != nil {
				t.Fatalf("%q: %v", tc.args, err)
			}
			want := *execBaseSpec().Process
			want.Args = []string{"true"}
			tc.edit(&want)
			if !reflect.DeepEqual(got, &want) {
				t.Errorf("%q:\n got %+v\nwant %+v", tc.args, got, &want)
			}
			if !reflect.DeepEqual(spec, execBaseSpec()) {
				t.Errorf("%q: the container's config was changed: %+v", tc.args, spec.Process)
			}
		})
	}
}

// TestExecFlagsRefused: what runc refuses is refused before anything
// starts, with the flag and its value named.
func TestExecFlagsRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string // all in the error
	}{
		{[]string{"--cwd", "etc"}, []string{"--cwd", `"etc"`, "absolute"}},
		{[]string{"--cwd", "./"}, []string{"--cwd", `"./"`, "absolute"}},
		{[]string{"-g", "-5"}, []string{"--additional-gids -5", "must be a positive number"}},
		{[]string{"-g", "2147483648"}, []string{"--additional-gids 2147483648", "0-2147483647"}},
		{[]string{"-u", "3000000000"}, []string{`--user "3000000000"`, "uid", "0-2147483647"}},
		{[]string{"-u", "-5"}, []string{`--user "-5"`, "uid", "0-2147483647"}},
		{[]string{"-u", "0:-5"}, []string{`--user "0:-5"`, "gid", "0-2147483647"}},
		{[]string{"-u", "0:2147483648"}, []string{`--user "0:2147483648"`, "gid", "0-2147483647"}},
		{[]string{"-u", "99999999999999999999"}, []string{`--user "99999999999999999999"`, "0-2147483647"}},
		{[]string{"-u", "abc"}, []string{`--user "abc"`, "as numbers", "invalid syntax"}},
		{[]string{"-u", "1:"}, []string{`--user "1:"`, "gid", "as numbers"}},
	} {
		got, err := runExecFlags(t, execBaseSpec(), append(tc.args, "id", "true")...)
		if err == nil {
			t.Errorf("%q: accepted: %+v", tc.args, got)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not say %q", tc.args, err, w)
			}
		}
	}
}

// TestExecProcessFile: a --process file is held to runc's rules too: an
// absolute cwd and ids in range, the field and value named.
func TestExecProcessFile(t *testing.T) {
	ok := specs.Process{Args: []string{"id"}, Cwd: "/tmp", User: specs.User{UID: 2147483647, AdditionalGids: []uint32{2147483647}}}
	for _, tc := range []struct {
		name string
		edit func(p *specs.Process)
		want string // "" = accepted
	}{
		{"valid", func(p *specs.Process) {}, ""},
		{"relative cwd", func(p *specs.Process) { p.Cwd = "etc" }, `process.cwd "etc": must be an absolute path`},
		{"empty cwd", func(p *specs.Process) { p.Cwd = "" }, `process.cwd "": must be an absolute path`},
		{"uid", func(p *specs.Process) { p.User.UID = 3000000000 }, "process.user.uid 3000000000: uids and gids must be in range 0-2147483647"},
		{"gid", func(p *specs.Process) { p.User.GID = 2147483648 }, "process.user.gid 2147483648: uids"},
		{"additional gid", func(p *specs.Process) { p.User.AdditionalGids = []uint32{1, 4294967291} }, "process.user.additionalGids[1] 4294967291: uids"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ok
			p.User.AdditionalGids = append([]uint32(nil), ok.User.AdditionalGids...)
			tc.edit(&p)
			path := filepath.Join(t.TempDir(), "process.json")
			data, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := runExecFlags(t, execBaseSpec(), "--process", path, "id")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == "" && !reflect.DeepEqual(got, &p):
				t.Errorf("got %+v, want the file's %+v", got, &p)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), "--process "+path+": "+tc.want)):
				t.Errorf("error %v, want one saying --process %s: %s", err, path, tc.want)
			}
		})
	}
}
