package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNspawnSidePath: hull-nspawn is found beside hull, and anything but an
// executable file there is an error naming the path.
func TestNspawnSidePath(t *testing.T) {
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
			want := filepath.Join(dir, nspawnSideName)
			if err := tc.make(want); err != nil {
				t.Fatal(err)
			}
			got, err := nspawnSidePath(filepath.Join(dir, "hull"))
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

// TestNoNspawnPackages: every hull command starts with the package inits
// of everything it links, so the runtime's binary links none of the
// nspawn side; hull-nspawn does (the check sees them).
func TestNoNspawnPackages(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	nspawnOnly := []string{
		"github.com/hull-runtime/hull/nspawnconv",
		"github.com/hull-runtime/hull/nspawnconv/sysfilter",
		"github.com/hull-runtime/hull/hooks/nspawn",
		"github.com/hull-runtime/hull/hooks/machined",
		"github.com/google/nftables",
		"github.com/mdlayher/netlink",
		"crypto/rand",
	}
	for _, tc := range []struct {
		pkg string
		has bool
	}{{".", false}, {"../hull-nspawn", true}} {
		out, err := exec.Command(goBin, "list", "-deps", "-tags", "urfave_cli_no_docs osusergo netgo", tc.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", tc.pkg, err, out)
		}
		deps := map[string]bool{}
		for _, p := range strings.Fields(string(out)) {
			deps[p] = true
		}
		for _, p := range nspawnOnly {
			if deps[p] != tc.has {
				t.Errorf("%s links %s: %v, want %v", tc.pkg, p, deps[p], tc.has)
			}
		}
	}
}
