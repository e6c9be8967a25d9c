package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMakeMountpoints(t *testing.T) {
	hostDir := t.TempDir() // a host directory a symlink in the rootfs names
	for _, tc := range []struct {
		name    string
		setup   func(t *testing.T, root string)
		point   Mountpoint
		check   string // the path in the rootfs that must now exist
		dir     bool
		keep    string // the content the existing file keeps
		wantErr string
	}{
		{"a missing directory and its parents", nil, Mountpoint{Path: "/a/b/c", Dir: true}, "a/b/c", true, "", ""},
		{"a missing file", nil, Mountpoint{Path: "/etc/hosts"}, "etc/hosts", false, "", ""},
		{"one that exists is kept", func(t *testing.T, root string) {
			mustWrite(t, filepath.Join(root, "etc/hosts"), "keep")
		}, Mountpoint{Path: "/etc/hosts"}, "etc/hosts", false, "keep", ""},
		{"a symlink resolves inside the rootfs", func(t *testing.T, root string) {
			if err := os.Symlink("/inside", filepath.Join(root, "data")); err != nil {
				t.Fatal(err)
			}
		}, Mountpoint{Path: "/data/x", Dir: true}, "inside/x", true, "", ""},
		{"an absolute symlink to the host stays in", func(t *testing.T, root string) {
			if err := os.Symlink(hostDir, filepath.Join(root, "escape")); err != nil {
				t.Fatal(err)
			}
		}, Mountpoint{Path: "/escape/x", Dir: true}, strings.TrimPrefix(hostDir, "/") + "/x", true, "", ""},
		{"strict refuses a symlink", func(t *testing.T, root string) {
			if err := os.Symlink("/elsewhere", filepath.Join(root, "proc")); err != nil {
				t.Fatal(err)
			}
		}, Mountpoint{Path: "/proc", Dir: true, Strict: true}, "", true, "", "mount point /proc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if tc.setup != nil {
				tc.setup(t, root)
			}
			tc.point.Root = root
			err := MakeMountpoints([]Mountpoint{tc.point})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check == "" {
				return
			}
			st, err := os.Lstat(filepath.Join(root, tc.check))
			if err != nil || st.IsDir() != tc.dir {
				t.Fatalf("%s: %v (dir %v, want %v)", tc.check, err, err == nil && st.IsDir(), tc.dir)
			}
			if _, err := os.Stat(filepath.Join(hostDir, "x")); err == nil {
				t.Errorf("made %s on the host", filepath.Join(hostDir, "x"))
			}
			if tc.keep != "" {
				if data, _ := os.ReadFile(filepath.Join(root, tc.check)); string(data) != tc.keep {
					t.Errorf("the existing file was replaced: %q", data)
				}
			}
		})
	}
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
