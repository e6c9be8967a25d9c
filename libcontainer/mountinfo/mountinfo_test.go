package mountinfo

import "testing"

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		"/plain":           "/plain",
		`/a\040b\011c\134`: "/a b\tc\\",
		`/new\012line`:     "/new\nline",
		`/trailing\`:       `/trailing\`,
		`/short\04`:        `/short\04`,
		`/not\999octal`:    `/not\999octal`,
		`\040lead`:         " lead",
	} {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}
