package e2e

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hull-runtime/hull/tests/testenv"
)

// glibcNote is the ELF note glibc's start files put in every program linked
// against it (NT_GNU_ABI_TAG); musl's start files have none.
const glibcNote = ".note.ABI-tag"

func sameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

func hasSection(t *testing.T, path, name string) bool {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("read %s as ELF: %v", path, err)
	}
	defer f.Close()
	return f.Section(name) != nil
}

// TestRuntimeLinkedAgainstMusl: where the Makefile links hull and
// hull-nspawn against musl (musl-gcc installed), the binaries it built
// carry none of glibc's start files, whose static start costs 0.55 ms of
// CPU per command on a VM (docs/design.md, "hull on musl"). The control: a
// static program linked against glibc here carries the note the test
// looks for.
func TestRuntimeLinkedAgainstMusl(t *testing.T) {
	bin, _ := testenv.RequireHull(t, "end-to-end tests")
	if built := testenv.MakeVar(t, "../..", "HULL"); !sameFile(bin, built) {
		t.Skipf("the hull under test, %s, is not the Makefile's build, %s: how it was linked is not known", bin, built)
	}
	if cc := testenv.MakeVar(t, "../..", "HULL_CC"); filepath.Base(cc) != "musl-gcc" {
		t.Skipf("the Makefile links hull with %s, not musl-gcc (musl-tools not installed)", cc)
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skipf("no gcc for the glibc control: %v", err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "probe.c")
	if err := os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	probe := filepath.Join(dir, "probe")
	if out, err := exec.Command(gcc, "-static", "-o", probe, src).CombinedOutput(); err != nil {
		t.Skipf("no static glibc for the control: %v: %s", err, out)
	}
	if !hasSection(t, probe, glibcNote) {
		t.Fatalf("control: a static glibc program has no %s section; the probe no longer tells the C libraries apart", glibcNote)
	}
	for _, p := range []string{bin, filepath.Join(filepath.Dir(bin), "hull-nspawn")} {
		if hasSection(t, p, glibcNote) {
			t.Errorf("%s has glibc's %s: linked against glibc, not musl", p, glibcNote)
		}
	}
}
