// Package testenv is what hull's tests share: finding the hull binary and
// the busybox rootfs the Makefile built, reading the Makefile's variables,
// or skipping with the reason when a test cannot run here.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RequireHull returns HULL_BINARY and HULL_ROOTFS (set by the Makefile), or
// skips the test saying what is missing; suite names the tests in the
// message when root is missing.
func RequireHull(t testing.TB, suite string) (bin, rootfs string) {
	t.Helper()
	bin, rootfs = os.Getenv("HULL_BINARY"), os.Getenv("HULL_ROOTFS")
	if bin == "" || rootfs == "" {
		t.Skip("HULL_BINARY and HULL_ROOTFS are not set: run `make test` (or `make e2e`)")
	}
	if !filepath.IsAbs(bin) || !filepath.IsAbs(rootfs) {
		t.Skipf("HULL_BINARY %q and HULL_ROOTFS %q must be absolute paths", bin, rootfs)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("HULL_BINARY: %v (run `make build`)", err)
	}
	if _, err := os.Stat(filepath.Join(rootfs, "bin", "busybox")); err != nil {
		t.Skipf("HULL_ROOTFS: %v (run `make rootfs`)", err)
	}
	if os.Geteuid() != 0 {
		t.Skipf("%s need root", suite)
	}
	return bin, rootfs
}

// MakeVar is variable name as the Makefile in dir expands it, or skips
// the test without make; a failure to read it fails the test.
func MakeVar(t testing.TB, dir, name string) string {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skipf("no make to read %s from the Makefile: %v", name, err)
	}
	v, err := ReadMakeVar(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// ReadMakeVar is variable name as the Makefile in dir expands it (make's
// own reading, with any overrides the calling make passes down), so that a
// test checks what the build does instead of a copy of it; an error when
// make fails or the variable is empty.
func ReadMakeVar(dir, name string) (string, error) {
	rule := "hull-print-var: ; @echo '$(" + name + ")'"
	cmd := exec.Command("make", "-s", "--no-print-directory", "-C", dir, "--eval", rule, "hull-print-var")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("make: read %s from %s/Makefile: %w\n%s", name, dir, err, stderr.String())
	}
	v := strings.TrimSpace(string(out))
	if v == "" {
		return "", fmt.Errorf("%s/Makefile sets no %s", dir, name)
	}
	return v, nil
}
