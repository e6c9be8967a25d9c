package libcontainer

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestValidateSELinux(t *testing.T) {
	if selinuxEnabled() {
		t.Skip("SELinux is enabled here; the refusal reason differs")
	}
	for _, tc := range []struct {
		name  string
		label string // process.selinuxLabel
		mount string // linux.mountLabel
		want  []string
	}{
		{"none", "", "", nil},
		{"process", "system_u:system_r:container_t:s0", "", []string{`process.selinuxLabel "system_u:system_r:container_t:s0"`, "SELinux is disabled"}},
		{"mount label ignored", "", "system_u:object_r:container_file_t:s0", nil},
		{"both", "a", "b", []string{`process.selinuxLabel "a"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := &specs.Spec{Process: &specs.Process{SelinuxLabel: tc.label}, Linux: &specs.Linux{MountLabel: tc.mount}}
			err := validateSELinux(spec)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
