package libcontainer

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/libcontainer/state"
	"github.com/hull-runtime/hull/oci"
)

// writeState makes a container's state directory under a temp root with
// the given state.json and returns the root.
func writeState(t *testing.T, id, stateJSON string) string {
	t.Helper()
	root := t.TempDir()
	d, err := state.Create(root, id)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if stateJSON != "" {
		if err := os.WriteFile(filepath.Join(root, id, "state.json"), []byte(stateJSON), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestLoadSpecView(t *testing.T) {
	const full = `{"id":"c","bundle":"/b","rootfs":"/b/rootfs","created":"2026-12-06T10:00:00Z","init":{"pid":1234,"start":5},` +
		`"spec":{"ociVersion":"1.2.0","process":{"args":["true"],"cwd":"/"},"root":{"path":"rootfs"},` +
		`"annotations":{"a":"1"},"hooks":{"poststop":[{"path":"/bin/true"}]},` +
		`"linux":{"namespaces":[{"type":"pid"},{"type":"mount"}],"resources":{"pids":{"limit":5}}}}}`
	tests := []struct {
		name      string
		state     string
		loadErr   string // Load fails naming this
		fullErr   string // FullSpec fails naming this
		hasSpec   bool
		annots    map[string]string
		poststop  int
		ownsPID   bool
		resources bool // FullSpec sees linux.resources
	}{
		{name: "full spec", state: full, hasSpec: true, annots: map[string]string{"a": "1"}, poststop: 1, ownsPID: true, resources: true},
		{name: "joined pid namespace", state: `{"id":"c","init":{"pid":1},"spec":{"linux":{"namespaces":[{"type":"pid","path":"/proc/1/ns/pid"}]}}}`, hasSpec: true},
		{name: "spec null (first save of a create)", state: `{"id":"c","init":{"pid":0},"spec":null}`},
		{name: "no state file (create interrupted)", state: ""},
		{name: "bad type in a field in view", state: `{"id":"c","init":{"pid":1},"spec":{"annotations":5}}`, loadErr: "state.json: spec"},
		{name: "bad type outside the view", state: `{"id":"c","init":{"pid":1},"spec":{"process":5}}`, hasSpec: true, fullErr: "state.json: spec"},
		{name: "not JSON", state: `{"id":`, loadErr: "state.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeState(t, "c", tt.state)
			c, err := Load(root, "c", true)
			if tt.loadErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.loadErr) {
					t.Fatalf("Load: %v, want an error naming %q", err, tt.loadErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			defer c.Close()
			if c.Spec != nil {
				t.Error("Load decoded the whole spec")
			}
			if got := c.hasSpec(); got != tt.hasSpec {
				t.Errorf("hasSpec %v, want %v", got, tt.hasSpec)
			}
			if got := c.Annotations(); len(got) != 0 || len(tt.annots) != 0 {
				if !reflect.DeepEqual(got, tt.annots) {
					t.Errorf("annotations %v, want %v", got, tt.annots)
				}
			}
			if h := c.hooks(); (h != nil && len(h.Poststop) != tt.poststop) || (h == nil && tt.poststop != 0) {
				t.Errorf("poststop hooks %+v, want %d", h, tt.poststop)
			}
			if got := c.ownsPIDNamespace(); got != tt.ownsPID {
				t.Errorf("ownsPIDNamespace %v, want %v", got, tt.ownsPID)
			}
			spec, err := c.FullSpec()
			if tt.fullErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.fullErr) {
					t.Fatalf("FullSpec: %v, want an error naming %q", err, tt.fullErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("FullSpec: %v", err)
			}
			if (spec != nil) != tt.hasSpec {
				t.Fatalf("FullSpec %v, want a spec %v", spec, tt.hasSpec)
			}
			if got := spec != nil && spec.Linux != nil && spec.Linux.Resources != nil; got != tt.resources {
				t.Errorf("FullSpec has linux.resources %v, want %v", got, tt.resources)
			}
			// After the full decode the accessors read the whole spec.
			if got := c.ownsPIDNamespace(); got != tt.ownsPID {
				t.Errorf("ownsPIDNamespace after FullSpec %v, want %v", got, tt.ownsPID)
			}
		})
	}
}

// A loaded container saved again keeps its whole spec (update does so).
func TestSaveKeepsSpec(t *testing.T) {
	spec := specs.Spec{Version: "1.2.0", Process: &specs.Process{Args: []string{"true"}, Cwd: "/"},
		Annotations: map[string]string{"k": "v"},
		Linux:       &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace}}, Sysctl: map[string]string{"net.ipv4.ip_forward": "1"}}}
	root := t.TempDir()
	d, err := state.Create(root, "c")
	if err != nil {
		t.Fatal(err)
	}
	if err := (&Container{dir: d, Saved: Saved{ID: "c", Spec: &spec}}).save(); err != nil {
		t.Fatal(err)
	}
	d.Close()
	c, err := Load(root, "c", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.save(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c, err = Load(root, "c", false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := c.FullSpec()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, spec) {
		t.Fatalf("spec after load and save:\n%+v\nwant\n%+v", *got, spec)
	}
}

// stateV5 is state.json as hull wrote it before it kept the spec as
// bytes: Saved with the spec encoded by encoding/json.
type stateV5 struct {
	ID      string        `json:"id"`
	Bundle  string        `json:"bundle"`
	Rootfs  string        `json:"rootfs"`
	Created time.Time     `json:"created"`
	Init    state.Process `json:"init"`
	Spec    *specs.Spec   `json:"spec"`
}

func compatSpec() specs.Spec {
	return specs.Spec{Version: "1.2.0", Process: &specs.Process{Args: []string{"true"}, Cwd: "/"},
		Annotations: map[string]string{"k": "v"},
		Hooks:       &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true"}}},
		Linux:       &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace}}}}
}

// A state file written by the previous hull loads: the view, the whole
// spec, and saved again the same spec.
func TestLoadPreviousStateFormat(t *testing.T) {
	spec := compatSpec()
	data, err := json.Marshal(stateV5{ID: "c", Bundle: "/b", Init: state.Process{Pid: 1, StartTime: 2}, Spec: &spec})
	if err != nil {
		t.Fatal(err)
	}
	root := writeState(t, "c", string(data))
	c, err := Load(root, "c", false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Init.Pid != 1 || c.Bundle != "/b" || !reflect.DeepEqual(c.Annotations(), spec.Annotations) || len(c.hooks().Poststop) != 1 || !c.ownsPIDNamespace() {
		t.Fatalf("loaded %+v, view %+v", c.Saved, c.view)
	}
	got, err := c.FullSpec()
	if err != nil || !reflect.DeepEqual(*got, spec) {
		t.Fatalf("FullSpec: %v\n%+v\nwant\n%+v", err, got, spec)
	}
}

// What create writes (config.json's bytes as the spec) reads as the
// previous hull reads a state file, and as this one does.
func TestSaveConfigBytes(t *testing.T) {
	spec := compatSpec()
	// config.json as a person writes it: indented, keys in any case, an
	// unknown field; what hull decodes from it is spec.
	config := []byte(`{
	"ociVersion": "1.2.0", "x-unknown": [1, {"a": null}],
	"Process": {"args": ["true"], "cwd": "/"},
	"annotations": {"k": "v"},
	"hooks": {"poststop": [{"path": "/bin/true"}]},
	"linux": {"namespaces": [{"type": "pid"}]}
}`)
	decoded, err := oci.DecodeSpec(config)
	if err != nil || !reflect.DeepEqual(*decoded, spec) {
		t.Fatalf("config decodes to %+v (%v), want %+v", decoded, err, spec)
	}
	root := t.TempDir()
	d, err := state.Create(root, "c")
	if err != nil {
		t.Fatal(err)
	}
	c := &Container{dir: d, Saved: Saved{ID: "c", Init: state.Process{Pid: 1}, Spec: decoded}, rawSpec: config}
	if err := c.save(); err != nil {
		t.Fatal(err)
	}
	d.Close()
	data, err := os.ReadFile(filepath.Join(root, "c", "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"x-unknown":[1,{"a":null}]`)) {
		t.Errorf("state.json does not hold config.json's bytes: %s", data)
	}
	var old stateV5
	if err := json.Unmarshal(data, &old); err != nil || old.Init.Pid != 1 || !reflect.DeepEqual(*old.Spec, spec) {
		t.Fatalf("the previous hull reads %+v (%v), want spec %+v", old, err, spec)
	}
	c, err = Load(root, "c", false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := c.FullSpec()
	if err != nil || !reflect.DeepEqual(*got, spec) {
		t.Fatalf("FullSpec: %v\n%+v\nwant\n%+v", err, got, spec)
	}
	if !reflect.DeepEqual(c.Annotations(), spec.Annotations) || len(c.hooks().Poststop) != 1 || !c.ownsPIDNamespace() {
		t.Fatalf("view %+v", c.view)
	}
}
