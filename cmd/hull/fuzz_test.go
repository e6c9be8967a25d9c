package main

import (
	"strings"
	"testing"
)

// FuzzParseSignal: signal names and numbers as kill takes them. Never a
// panic; what is accepted is a signal 1..64, what is refused is named.
func FuzzParseSignal(f *testing.F) {
	for _, s := range []string{"9", "KILL", "sigterm", "RTMIN+3", "SIGRTMAX-1", "RTMIN+", "0", "-1", "65", "SIGRTMIN+99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := parseSignal(s)
		if err != nil {
			if !strings.Contains(err.Error(), "signal") {
				t.Errorf("error does not say signal: %v", err)
			}
			return
		}
		if sig < 1 || sig > 64 {
			t.Errorf("parseSignal(%q) = %d, outside 1..64", s, sig)
		}
	})
}
