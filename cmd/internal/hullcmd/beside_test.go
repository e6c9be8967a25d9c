package hullcmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBeside: a program is found beside the binary, and anything but an
// executable file there is an error naming the path.
func TestBeside(t *testing.T) {
	for _, tc := range []struct {
		name  string
		make  func(p string) error
		valid bool
		want  string
	}{
		{"missing", func(string) error { return nil }, false, "no such file"},
		{"directory", func(p string) error { return os.Mkdir(p, 0o755) }, false, "not an executable file"},
		{"not executable", func(p string) error { return os.WriteFile(p, nil, 0o644) }, false, "not an executable file"},
		{"executable", func(p string) error { return os.WriteFile(p, nil, 0o755) }, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			want := filepath.Join(dir, "hull-nspawn")
			if err := tc.make(want); err != nil {
				t.Fatal(err)
			}
			got, err := Beside(filepath.Join(dir, "hull"), "hull-nspawn")
			if tc.valid {
				if err != nil || got != want {
					t.Errorf("got %q, %v; want %s", got, err, want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %q, %v; want an error naming %s: %s", got, err, want, tc.want)
			}
		})
	}
}
