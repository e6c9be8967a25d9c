package nspawnconv

import (
	"slices"
	"testing"
)

func TestParseBoolean(t *testing.T) {
	for _, v := range []string{"1", "yes", "Y", "TRUE", "t", "On"} {
		if b, err := ParseBoolean(v); err != nil || !b {
			t.Errorf("ParseBoolean(%q) = %v, %v; want true", v, b, err)
		}
	}
	for _, v := range []string{"0", "no", "N", "false", "F", "OFF"} {
		if b, err := ParseBoolean(v); err != nil || b {
			t.Errorf("ParseBoolean(%q) = %v, %v; want false", v, b, err)
		}
	}
	for _, v := range []string{"", "2", "yess", "enable"} {
		if _, err := ParseBoolean(v); err == nil {
			t.Errorf("ParseBoolean(%q) accepted", v)
		}
	}
}

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		bad  bool
	}{
		{in: "a b  c", want: []string{"a", "b", "c"}},
		{in: `"a b" c`, want: []string{"a b", "c"}},
		{in: `'a b' c`, want: []string{"a b", "c"}},
		{in: `'a\nb'`, want: []string{`a\nb`}},
		{in: `"a\nb"`, want: []string{"a\nb"}},
		{in: `a\ b`, want: []string{"a b"}},
		{in: `x"y z"w`, want: []string{"xy zw"}},
		{in: `\x41\101\u00e9\U0001F600\s\t`, want: []string{"AAé😀 \t"}},
		{in: `"\""`, want: []string{`"`}},
		{in: `FOO="bar baz" QUX='x'`, want: []string{"FOO=bar baz", "QUX=x"}},
		{in: "", want: nil},
		{in: `"open`, bad: true},
		{in: `'open`, bad: true},
		{in: `trailing\`, bad: true},
		{in: `\q`, bad: true},
		{in: `\x4`, bad: true},
		{in: `\000`, bad: true},
	}
	for _, tc := range tests {
		got, err := SplitWords(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("SplitWords(%q) = %q, want error", tc.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("SplitWords(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestSplitColon: nspawn's extract_first_word(":", DONT_COALESCE) drops the
// backslash before any byte, keeps empty words and refuses a trailing one.
func TestSplitColon(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`/a\:b:/c:rbind`, []string{"/a:b", "/c", "rbind"}},
		{`/a\\:/b`, []string{`/a\`, "/b"}},
		{`/a\,b::/c`, []string{"/a,b", "", "/c"}},
		{`/x:`, []string{"/x", ""}},
	} {
		got, err := splitColon(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("splitColon(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := splitColon(`/a\`); err == nil {
		t.Error("a trailing backslash accepted")
	}
}

func TestOverlayEscape(t *testing.T) {
	if got, want := overlayEscape(`/a:b,c\d`), `/a\:b\,c\\d`; got != want {
		t.Errorf("overlayEscape = %q, want %q", got, want)
	}
}
