package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestUnknownCapabilitySkipped: a capability name the runtime does not
// know is logged as a warning and skipped, not a failure (runtime-spec 1.1
// on; runc, the control, does the same), so that an engine may send
// capabilities newer than the runtime. The process gets exactly the known
// ones, as under runc.
func TestUnknownCapabilitySkipped(t *testing.T) {
	t.Parallel()
	status := map[string]string{}
	for _, c := range withControls(t, func(s *specs.Spec) {
		caps := s.Process.Capabilities
		caps.Bounding = append(caps.Bounding, "CAP_FOO")
		caps.Effective = append(caps.Effective, "CAP_FOO")
		caps.Permitted = append(caps.Permitted, "CAP_FOO")
		s.Process.Args = sh("grep ^Cap /proc/self/status")
	}) {
		rt := c.runtimeName()
		log := filepath.Join(c.tmp, "log")
		r := c.hull("--log", log, "run", "--bundle", c.Bundle, c.ID)
		if r.Code != 0 {
			t.Fatalf("%s: %s", rt, r)
		}
		status[rt] = r.Stdout
		logged, _ := os.ReadFile(log)
		if rt == "hull" && !strings.Contains(string(logged), `unknown capability \"CAP_FOO\"`) {
			t.Errorf("hull: no warning naming CAP_FOO in the log:\n%s", logged)
		}
	}
	if len(status) == 2 && status["hull"] != status["runc"] {
		t.Errorf("capabilities differ:\nhull:\n%s\nrunc:\n%s", status["hull"], status["runc"])
	}
}
