package hullcmd

import (
	"reflect"
	"strings"
	"testing"
)

func TestWithEnvFlags(t *testing.T) {
	base := []string{"PATH=/usr/bin:/bin", "FOO=container", "FOO=second"}
	for _, tc := range []struct {
		name    string
		flags   []string
		want    []string
		wantErr string
	}{
		{"none", nil, base, ""},
		{"override in place", []string{"FOO=x", "PATH=/bin"}, []string{"PATH=/bin", "FOO=x", "FOO=second"}, ""},
		{"new, last wins", []string{"NEW=1", "NEW=2"}, append(append([]string{}, base...), "NEW=2"), ""},
		{"a prefix is not the key", []string{"FO=y"}, append(append([]string{}, base...), "FO=y"), ""},
		{"empty value", []string{"FOO="}, []string{"PATH=/usr/bin:/bin", "FOO=", "FOO=second"}, ""},
		{"no =", []string{"NOEQ"}, nil, `--env "NOEQ"`},
		{"no key", []string{"=x"}, nil, `--env "=x"`},
	} {
		got, err := withEnvFlags(base, tc.flags)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err %v, want one naming %s", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if base[1] != "FOO=container" {
		t.Errorf("the container's env was changed: %q", base)
	}
}
