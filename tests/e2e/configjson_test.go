package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// rewriteConfig applies byte replacements to the bundle's config.json,
// for what json.Marshal of a spec never writes.
func (c *container) rewriteConfig(pairs ...string) {
	c.t.Helper()
	path := filepath.Join(c.Bundle, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		c.t.Fatal(err)
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		if !bytes.Contains(data, []byte(pairs[i])) {
			c.t.Fatalf("config.json has no %q", pairs[i])
		}
		data = bytes.Replace(data, []byte(pairs[i]), []byte(pairs[i+1]), 1)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// TestConfigJSONAsEncodingJSON: a config.json with what encoding/json
// accepts but hull's own encoder never writes (keys in another case, a
// duplicate key, unknown fields) runs as encoding/json reads it, and the
// container's later commands (state, exec, update, delete) read the saved
// spec the same way.
func TestConfigJSONAsEncodingJSON(t *testing.T) {
	c := newContainer(t, func(s *specs.Spec) {
		s.Hostname = "second"
		s.Process.Args = []string{"sleep", "100"}
		s.Process.Env = append(s.Process.Env, "FOO=bar")
		s.Annotations = map[string]string{"org.hull.test": "v"}
	})
	c.rewriteConfig(
		`"process": {`, `"Process": {"X-Unknown": [1, {"a": null}],`,
		`"hostname": "second"`, `"HOSTNAME": "first", "hostname": "second"`,
	)
	c.mustCreate()
	st := c.state()
	if st.Status != "created" || st.Annotations["org.hull.test"] != "v" {
		t.Fatalf("state %+v: want created, annotation org.hull.test=v", st)
	}
	c.mustHull("start", c.ID)
	out := c.mustHull("exec", c.ID, "sh", "-c", "hostname; echo $FOO").Stdout
	if out != "second\nbar\n" {
		t.Errorf("exec printed %q, want the last hostname and the env of the Process key", out)
	}
	c.mustHull("update", "--pids-limit", "50", c.ID)
	if st := c.state(); st.Annotations["org.hull.test"] != "v" {
		t.Errorf("annotations after update %v", st.Annotations)
	}
	c.mustHull("delete", "--force", c.ID)
	assertNothingLeft(t, c)
}

// TestConfigJSONRelativeBind: a relative bind source is made absolute
// (under the bundle), and exec reads that spec back from the state.
func TestConfigJSONRelativeBind(t *testing.T) {
	c := newContainer(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "100"}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "data", Type: "bind", Options: []string{"rbind", "ro"}})
	})
	c.privateRootfs() // the mountpoint /data is made in it
	if err := os.Mkdir(filepath.Join(c.Bundle, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.Bundle, "data", "f"), []byte("in the bundle\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustCreate()
	c.mustHull("start", c.ID)
	if out := c.mustHull("exec", c.ID, "cat", "/data/f").Stdout; out != "in the bundle\n" {
		t.Errorf("exec read %q from the relative bind", out)
	}
	c.mustHull("delete", "--force", c.ID)
	assertNothingLeft(t, c)
}

// TestConfigJSONTypeError: a value of the wrong type deep in config.json
// fails create naming the file, the field and the value's type, and
// leaves nothing behind.
func TestConfigJSONTypeError(t *testing.T) {
	c := newContainer(t, nil)
	c.rewriteConfig(`"uid": 0`, `"uid": "root"`)
	r := c.create()
	if r.Code == 0 {
		t.Fatalf("create accepted uid \"root\"\n%s", r)
	}
	for _, want := range []string{filepath.Join(c.Bundle, "config.json"), `field "process.user.uid"`, "value of type string"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("error does not name %q\n%s", want, r)
		}
	}
	assertNothingLeft(t, c)
}
