package e2e

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSharedStateRoot: with runc's containers in the same --root (Docker
// keeps both runtimes' state in one directory), hull lists only its own,
// and state, kill and delete refuse runc's, naming them, without touching
// them.
func TestSharedStateRoot(t *testing.T) {
	t.Parallel()
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Skipf("needs runc: %v", err)
	}
	sleep := func(s *specs.Spec) { s.Process.Args = []string{"sleep", "1000"} }
	h := newContainer(t, sleep)
	rs := []*container{newContainer(t, sleep), newContainer(t, sleep)}
	for _, r := range rs {
		r.bin, r.Root = runc, h.Root
		r.mustCreate()
	}
	rs[0].mustHull("start", rs[0].ID) // one running, one created
	h.mustCreate()
	h.mustHull("start", h.ID)

	out := h.mustHull("list").Stdout
	var listed []map[string]any
	if err := json.Unmarshal([]byte(h.mustHull("list", "--format", "json").Stdout), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0]["id"] != h.ID || !strings.Contains(out, h.ID) {
		t.Errorf("hull list: %v\n%s", listed, out)
	}
	for _, r := range rs {
		if strings.Contains(out, r.ID) {
			t.Errorf("hull list shows runc's %s:\n%s", r.ID, out)
		}
		for _, args := range [][]string{{"state", r.ID}, {"kill", r.ID, "KILL"}, {"delete", r.ID}, {"delete", "--force", r.ID},
			{"pause", r.ID}, {"exec", r.ID, "true"}} {
			res := h.hull(args...)
			if res.Code == 0 || !strings.Contains(res.Stderr, r.ID) || !strings.Contains(res.Stderr, "not a hull container") {
				t.Errorf("want a failure naming %s as not hull's: %s", r.ID, res)
			}
		}
		if res := h.hull("create", "--bundle", h.Bundle, r.ID); res.Code == 0 || !strings.Contains(res.Stderr, "already exists") {
			t.Errorf("create with runc's id: %s", res)
		}
	}
	if st := rs[0].state(); st.Status != "running" {
		t.Errorf("runc's container after hull's attempts: %s", st.Status)
	}
	if st := rs[1].state(); st.Status != "created" {
		t.Errorf("runc's created container after hull's attempts: %s", st.Status)
	}
	if st := h.state(); st.Status != "running" {
		t.Errorf("hull's container: %s", st.Status)
	}
}
