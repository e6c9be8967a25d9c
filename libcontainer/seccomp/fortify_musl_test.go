//go:build musl

package seccomp

import (
	"strconv"
	"testing"
)

// TestFprintfChkOnMusl: the stand-in for glibc's checked fprintf formats as
// fprintf does (the flag argument is not taken for the format).
func TestFprintfChkOnMusl(t *testing.T) {
	for _, v := range []int{0, 42, -7} {
		want := "n=" + strconv.Itoa(v)
		if got := fprintfChkProbe(v); got != want {
			t.Errorf("__fprintf_chk(%q, \"n\", %d) wrote %q, want %q", "%s=%d", v, got, want)
		}
	}
}
