package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestRemoveCgroupDirPlain: off cgroupfs a directory with children says
// ENOTEMPTY, not EBUSY; removeCgroupDir still removes the tree deepest
// first, a missing one is success, and a file in the way is an error.
func TestRemoveCgroupDirPlain(t *testing.T) {
	for _, tc := range []struct {
		name  string
		make  []string // directories under the top one
		file  string   // a regular file under it, if any
		wantE bool
	}{
		{name: "empty"},
		{name: "nested", make: []string{"a/b/c", "d"}},
		{name: "missing"},
		{name: "a file below", make: []string{"a"}, file: "a/f", wantE: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := filepath.Join(t.TempDir(), "cg")
			if tc.name != "missing" {
				if err := os.Mkdir(top, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, d := range tc.make {
				if err := os.MkdirAll(filepath.Join(top, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if tc.file != "" {
				if err := os.WriteFile(filepath.Join(top, tc.file), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := removeCgroupDir(top)
			if (err != nil) != tc.wantE {
				t.Fatalf("removeCgroupDir = %v, want error %v", err, tc.wantE)
			}
			_, serr := os.Stat(top)
			if gone := errors.Is(serr, os.ErrNotExist); gone == tc.wantE {
				t.Errorf("after removeCgroupDir: stat %v", serr)
			}
		})
	}
}
