package rawfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadFileAsOS compares ReadFile and ReadSmall with os.ReadFile on
// regular files around the buffer sizes, /proc files (size 0), a missing
// file and a directory: same bytes, same error.
func TestReadFileAsOS(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for _, n := range []int{0, 1, 511, 512, 513, 4096, 100_000} {
		p := filepath.Join(dir, "f"+strings.Repeat("x", n%7))
		p += string(rune('a' + len(paths)))
		if err := os.WriteFile(p, bytes.Repeat([]byte{'y'}, n), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	paths = append(paths, "/proc/self/mountinfo", "/proc/self/stat", "/proc/sys/kernel/cap_last_cap",
		"/proc/filesystems", filepath.Join(dir, "missing"), dir)
	for _, p := range paths {
		want, werr := os.ReadFile(p)
		for name, read := range map[string]func(string) ([]byte, error){
			"ReadFile":  ReadFile,
			"ReadSmall": func(p string) ([]byte, error) { return ReadSmall(p, 64) },
		} {
			got, err := read(p)
			if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
				t.Errorf("%s(%s): error %v, os.ReadFile's %v", name, p, err, werr)
			}
			if werr != nil && errors.Is(werr, os.ErrNotExist) != errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s(%s): errors.Is(ErrNotExist) differs: %v", name, p, err)
			}
			// /proc/self/* is another process's view each time: compare lengths of stable files only.
			if strings.HasPrefix(p, "/proc/self/stat") {
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s(%s): %d bytes, os.ReadFile %d", name, p, len(got), len(want))
			}
		}
	}
}
