package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestBadInput: each broken bundle or id makes create fail with an error
// naming the file, field or value, and leaves nothing behind.
func TestBadInput(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		setup func(t *testing.T, c *container)
		id    string // overrides the container's id
		want  []string
	}{
		{
			name:  "missing-config",
			setup: func(t *testing.T, c *container) { os.Remove(filepath.Join(c.Bundle, "config.json")) },
			want:  []string{"config.json"},
		},
		{
			name: "invalid-json",
			setup: func(t *testing.T, c *container) {
				os.WriteFile(filepath.Join(c.Bundle, "config.json"), []byte("{\n\"ociVersion\": \"1.0.0\",\n\"process\": {"), 0o644)
			},
			want: []string{"config.json", "JSON"},
		},
		{
			name:  "unsupported-ociVersion",
			setup: func(t *testing.T, c *container) { c.Spec.Version = "2.0.0"; c.writeSpec() },
			want:  []string{"ociVersion", "2.0.0"},
		},
		{
			name:  "empty-args",
			setup: func(t *testing.T, c *container) { c.Spec.Process.Args = nil; c.writeSpec() },
			want:  []string{"process.args"},
		},
		{
			name:  "missing-rootfs",
			setup: func(t *testing.T, c *container) { c.Spec.Root.Path = "no-such-rootfs"; c.writeSpec() },
			want:  []string{"no-such-rootfs"},
		},
		{
			name: "bad-capability",
			setup: func(t *testing.T, c *container) {
				c.Spec.Process.Capabilities.Bounding = append(c.Spec.Process.Capabilities.Bounding, "CAP_E2E_NOPE")
				c.writeSpec()
			},
			want: []string{"CAP_E2E_NOPE"},
		},
		{
			name: "bad-rlimit",
			setup: func(t *testing.T, c *container) {
				c.Spec.Process.Rlimits = append(c.Spec.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_E2E_NOPE", Soft: 1, Hard: 1})
				c.writeSpec()
			},
			want: []string{"RLIMIT_E2E_NOPE"},
		},
		{
			name: "unknown-mount-type",
			setup: func(t *testing.T, c *container) {
				c.Spec.Mounts = append(c.Spec.Mounts, specs.Mount{Destination: "/home", Type: "e2enopefs", Source: "none"})
				c.writeSpec()
			},
			want: []string{"e2enopefs"},
		},
		{name: "id-with-slash", id: "a/b", want: []string{"a/b"}},
		{name: "id-dotdot", id: "..", want: []string{"container id"}},
		{name: "id-dotdot-slash", id: "../escape", want: []string{"../escape"}},
		{
			name: "missing-hook",
			setup: func(t *testing.T, c *container) {
				c.Spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/nonexistent/e2e-hook"}}}
				c.writeSpec()
			},
			want: []string{"/nonexistent/e2e-hook"},
		},
		{
			name: "missing-program",
			setup: func(t *testing.T, c *container) {
				c.Spec.Process.Args = []string{"/no/such/e2e-program"}
				c.writeSpec()
			},
			want: []string{"/no/such/e2e-program"},
		},
		{
			name:  "program-not-in-path",
			setup: func(t *testing.T, c *container) { c.Spec.Process.Args = []string{"e2e-no-such-cmd"}; c.writeSpec() },
			want:  []string{"e2e-no-such-cmd"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, func(s *specs.Spec) { s.Process.Args = []string{"true"} })
			if tc.setup != nil {
				tc.setup(t, c)
			}
			id := c.ID
			if tc.id != "" {
				id = tc.id
			}
			for _, cmd := range []string{"create", "run"} {
				r := c.hull(cmd, "--bundle", c.Bundle, id)
				if r.Code == 0 {
					t.Errorf("%s succeeded: %s", cmd, r)
				}
				t.Logf("%s: %s", cmd, strings.TrimSpace(r.Stderr))
				wantContains(t, r.Stderr, tc.want...)
				if strings.Contains(r.Stderr, "panic") {
					t.Errorf("%s panicked: %s", cmd, r)
				}
				assertNothingLeft(t, c)
				if entries, _ := os.ReadDir(c.Root); len(entries) > 0 {
					t.Errorf("%s left %d entries in the state root", cmd, len(entries))
				}
				if _, err := os.Stat(filepath.Join(filepath.Dir(c.Root), "escape")); err == nil {
					t.Errorf("%s made a directory outside the state root", cmd)
				}
			}
		})
	}
}
