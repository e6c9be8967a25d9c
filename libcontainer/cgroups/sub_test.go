package cgroups

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestSub: exec --cgroup's sub-cgroups resolve below the container's
// cgroup per controller (v1) or as one path (v2); missing, escaping and
// unknown ones are refused.
func TestSub(t *testing.T) {
	root := t.TempDir()
	dir := func(parts ...string) string { return filepath.Join(append([]string{root}, parts...)...) }
	for _, d := range []string{dir("pids", "ctr", "sub"), dir("memory", "ctr", "sub"), dir("unified", "ctr", "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	v1 := &v1Manager{paths: map[string]string{"pids": dir("pids", "ctr"), "memory": dir("memory", "ctr")}}
	v2 := &v2Manager{dir: dir("unified", "ctr")}
	for _, tc := range []struct {
		name string
		m    Manager
		sub  map[string]string
		want []string
		err  string
	}{
		{"v1 one controller", v1, map[string]string{"pids": "sub"}, []string{dir("memory", "ctr", "cgroup.procs"), dir("pids", "ctr", "sub", "cgroup.procs")}, ""},
		{"v1 every controller", v1, map[string]string{"": "sub"}, []string{dir("memory", "ctr", "sub", "cgroup.procs"), dir("pids", "ctr", "sub", "cgroup.procs")}, ""},
		{"v2", v2, map[string]string{"": "sub"}, []string{dir("unified", "ctr", "sub", "cgroup.procs")}, ""},
		{"v2 controller", v2, map[string]string{"pids": "sub"}, nil, "unknown controller pids"},
		{"unknown controller", v1, map[string]string{"cpu": "sub"}, nil, "unknown controller cpu"},
		{"missing", v1, map[string]string{"pids": "nosuch"}, nil, "no such file"},
		{"escape", v1, map[string]string{"pids": "../../memory/ctr"}, nil, "not a sub cgroup path"},
		{"itself", v1, map[string]string{"pids": "."}, nil, "not a sub cgroup path"},
	} {
		s, err := Sub(tc.m, tc.sub)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := s.ProcsFiles(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: procs files %v, want %v", tc.name, got, tc.want)
		}
	}
}
