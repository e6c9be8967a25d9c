package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/hull-runtime/hull/tests/testenv"
)

// TestNoNspawnPackages: every hull command starts with the package inits
// of everything it links, so the runtime's binary links none of the
// nspawn side; hull-nspawn does (the check sees them). The packages are
// listed with the build tags make builds both with (HULLTAGS, read from
// the Makefile), so a tag that pulls a file in counts. The one check of
// this: the built binaries' module lists would miss nspawnconv, a
// package of hull's own module.
func TestNoNspawnPackages(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	tags := testenv.MakeVar(t, "../..", "HULLTAGS")
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
		out, err := exec.Command(goBin, "list", "-deps", "-tags", tags, tc.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps -tags %q %s: %v\n%s", tags, tc.pkg, err, out)
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
