package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// execFlagCase is one exec command line, with ID and PROCESS standing
// for the container's id and a process.json, and what every runtime must
// make of it: the exit status, and text in its stdout (or, refused, its
// stderr); hull's refusals must also name the flag and value.
type execFlagCase struct {
	name string
	args []string
	code int
	out  string
	hull []string
}

var execFlagCases = []execFlagCase{
	{"cap raises ambient", []string{"-u", "1000", "--cap", "CAP_KILL", "ID", "grep", "CapAmb", "/proc/self/status"}, 0, "CapAmb:\t0000000000000020", nil},
	{"no-new-privs kept", []string{"ID", "grep", "NoNewPrivs", "/proc/self/status"}, 0, "NoNewPrivs:\t1", nil},
	{"no-new-privs=false", []string{"--no-new-privs=false", "ID", "grep", "NoNewPrivs", "/proc/self/status"}, 0, "NoNewPrivs:\t0", nil},
	{"absolute cwd", []string{"--cwd", "/etc", "ID", "pwd"}, 0, "/etc\n", nil},
	{"largest ids", []string{"-u", "2147483647:2147483647", "-g", "2147483647", "ID", "id"}, 0, "uid=2147483647 gid=2147483647 groups=2147483647", nil},
	{"relative cwd", []string{"--cwd", "etc", "ID", "pwd"}, 255, "must be an absolute path", []string{`--cwd: process.cwd "etc"`}},
	{"relative cwd in process.json", []string{"--process", "PROCESS", "ID"}, 255, "must be an absolute path", []string{`process.cwd "etc"`}},
	{"negative additional gid", []string{"-g", "-5", "ID", "id"}, 255, "additional-gids must be a positive number", []string{"--additional-gids -5"}},
	{"additional gid too large", []string{"-g", "3000000000", "ID", "id"}, 255, "uids and gids must be in range 0-2147483647", []string{"--additional-gids 3000000000"}},
	{"uid too large", []string{"-u", "3000000000", "ID", "id"}, 255, "uids and gids must be in range 0-2147483647", []string{`--user "3000000000"`}},
	{"negative uid", []string{"-u", "-5", "ID", "id"}, 255, "uids and gids must be in range 0-2147483647", []string{`--user "-5"`}},
}

// commandLine is exec with tc's arguments, ID and PROCESS filled in.
func (tc execFlagCase) commandLine(id, processJSON string) []string {
	out := []string{"exec"}
	for _, a := range tc.args {
		switch a {
		case "ID":
			a = id
		case "PROCESS":
			a = processJSON
		}
		out = append(out, a)
	}
	return out
}

// TestExecFlagsParity: exec's --cap, --no-new-privs=false, --cwd,
// --user and --additional-gids (and a process.json cwd) give the process
// what runc 1.1.5, the control, gives it, and what runc refuses is
// refused with status 255, nothing started, the flag and value named.
func TestExecFlagsParity(t *testing.T) {
	t.Parallel()
	got := map[string][]result{}
	for _, rt := range cliRuntimes(t) {
		got[rt] = runExecFlagCases(t, rt)
	}
	for i, tc := range execFlagCases {
		for rt, rs := range got {
			checkExecFlagCase(t, rt, tc, rs[i])
		}
		if runc, ok := got["runc"]; ok && got["hull"][i].Code == 0 && got["hull"][i].Stdout != runc[i].Stdout {
			t.Errorf("%s: hull printed %q, runc %q", tc.name, got["hull"][i].Stdout, runc[i].Stdout)
		}
	}
}

// runExecFlagCases runs every case in one running container of rt, whose
// process has CAP_KILL inheritable (so that an ambient CAP_KILL can be
// raised) and no_new_privs, and checks no refused exec left a process.
func runExecFlagCases(t *testing.T, rt string) []result {
	c := newRuntimeContainer(t, rt, func(s *specs.Spec) {
		sleeper(s)
		s.Process.Capabilities.Inheritable = []string{"CAP_KILL"}
		s.Process.NoNewPrivileges = true
	})
	c.runDetached()
	pj := processJSON(t, *c.Spec.Process)
	var out []result
	for _, tc := range execFlagCases {
		out = append(out, c.hull(tc.commandLine(c.ID, pj)...))
	}
	c.wantStatus("running")
	if pids := procsInCgroup(c.Cgroup); len(pids) != 1 {
		t.Errorf("%s: processes %v in the container, want its init alone", rt, pids)
	}
	return out
}

// processJSON writes p, run as pwd in the relative cwd "etc", to a file.
func processJSON(t *testing.T, p specs.Process) string {
	t.Helper()
	p.Args, p.Cwd = []string{"pwd"}, "etc"
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "process.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func checkExecFlagCase(t *testing.T, rt string, tc execFlagCase, r result) {
	t.Helper()
	if r.Code != tc.code {
		t.Errorf("%s: %s: exit %d, want %d: %s", rt, tc.name, r.Code, tc.code, r)
		return
	}
	where, text := "stdout", r.Stdout
	if tc.code != 0 {
		where, text = "stderr", r.Stderr
		if r.Stdout != "" {
			t.Errorf("%s: %s: refused, yet the program ran: %s", rt, tc.name, r)
		}
	}
	wants := []string{tc.out}
	if rt == "hull" {
		wants = append(wants, tc.hull...)
	}
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s: %s: %s lacks %q: %s", rt, tc.name, where, w, r)
		}
	}
}
