package nspawnconv

import (
	"strings"
	"testing"
)

func TestReadUnitFile(t *testing.T) {
	in := "# comment\n; other comment\n\n[Exec]\nBoot = yes\nParameters=a \\\n  b \\\n# dropped comment\n  c\n  # indented comment\nKey=value # not a comment\n[Files]\nBind=/x\nnoequals\n[Bad\n"
	got, warns, err := ReadUnitFile(strings.NewReader(in), "t.nspawn")
	if err != nil {
		t.Fatal(err)
	}
	want := []Assignment{
		{File: "t.nspawn", Line: 5, Section: "Exec", Key: "Boot", Value: "yes"},
		{File: "t.nspawn", Line: 6, Section: "Exec", Key: "Parameters", Value: "a    b    c"},
		{File: "t.nspawn", Line: 11, Section: "Exec", Key: "Key", Value: "value # not a comment"},
		{File: "t.nspawn", Line: 13, Section: "Files", Key: "Bind", Value: "/x"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d assignments %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("assignment %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if len(warns) != 2 || !strings.Contains(warns[0], "t.nspawn:14: missing '='") || !strings.Contains(warns[1], "t.nspawn:15: invalid section header") {
		t.Errorf("warnings = %q", warns)
	}
}

func TestReadUnitFileOutsideSectionAndEOFContinuation(t *testing.T) {
	got, warns, err := ReadUnitFile(strings.NewReader("A=1\n[Exec]\nB=2 \\"), "f")
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "f:1: assignment outside of section") {
		t.Errorf("warnings = %q", warns)
	}
	if len(got) != 1 || got[0].Key != "B" || got[0].Value != "2" || got[0].Line != 3 {
		t.Errorf("got %+v", got)
	}
}
