package e2e

import (
	"sort"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestExecEnvOverride: exec --env KEY=value replaces the container's KEY
// (a C program's getenv reads the first KEY=, so appending left the old
// value in force) and a word without "=" is refused, as under runc (the
// control).
func TestExecEnvOverride(t *testing.T) {
	t.Parallel()
	for _, c := range withControls(t, func(s *specs.Spec) {
		s.Process.Env = append(s.Process.Env, "FOO=container")
		s.Process.Args = []string{"sleep", "1000"}
	}) {
		rt := c.runtimeName()
		c.mustCreate()
		c.mustHull("start", c.ID)
		// cat's own environment is exactly what the runtime passed.
		r := c.mustHull("exec", "-e", "FOO=x", "-e", "NEW=1", "-e", "NEW=2", c.ID, "cat", "/proc/self/environ")
		var got []string
		for _, kv := range strings.Split(r.Stdout, "\x00") {
			if strings.HasPrefix(kv, "FOO=") || strings.HasPrefix(kv, "NEW=") {
				got = append(got, kv)
			}
		}
		sort.Strings(got)
		if strings.Join(got, " ") != "FOO=x NEW=2" {
			t.Errorf("%s: the process's FOO and NEW: %q, want FOO=x NEW=2", rt, got)
		}
		if r := c.hull("exec", "-e", "NOEQ", c.ID, "true"); r.Code == 0 {
			t.Errorf("%s: exec -e NOEQ accepted", rt)
		}
		c.wantStatus("running")
	}
}
