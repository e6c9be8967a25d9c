package oci

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParseSignal: signal names and numbers as kill takes them. Never a
// panic; what is accepted is a signal 0..64 (0 only as the number: it
// checks existence, as runc's kill takes it), what is refused is named.
func FuzzParseSignal(f *testing.F) {
	for _, s := range []string{"9", "KILL", "sigterm", "RTMIN+3", "SIGRTMAX-1", "RTMIN+", "0", "-1", "65", "SIGRTMIN+99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := ParseSignal(s)
		if err != nil {
			if !strings.Contains(err.Error(), "signal") {
				t.Errorf("error does not say signal: %v", err)
			}
			return
		}
		if sig < 0 || sig > 64 || (sig == 0 && !isZero(s)) {
			t.Errorf("ParseSignal(%q) = %d, outside 1..64 (or 0 from a number)", s, sig)
		}
	})
}

// isZero reports whether s is a number whose value is 0 ("0", "-0", "+00").
func isZero(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n == 0
}
