// Package testenv is what hull's end-to-end suites share: finding the hull
// binary and the busybox rootfs the Makefile built, or skipping with the
// reason when a test cannot run here.
package testenv

import (
	"os"
	"path/filepath"
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
