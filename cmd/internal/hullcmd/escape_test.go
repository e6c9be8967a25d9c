package hullcmd

import (
	"bytes"
	"io"
	"testing"
	"time"
)

func TestEscapeReader(t *testing.T) {
	const esc = "\x1d"
	tests := []struct {
		name  string
		input []string // one string per read, a step of 400 ms between reads
		fires bool
	}{
		{"three at once", []string{esc + esc + esc}, true},
		{"three within a second", []string{esc, esc, esc}, true},
		{"other byte between", []string{esc + esc + "a" + esc}, false},
		{"too slow", []string{esc, esc, "", "", esc}, false},
		{"two only", []string{esc + "x" + esc}, false},
		{"window restarts", []string{esc, "", "", esc, esc, esc}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := time.Unix(0, 0)
			fired := 0
			var in bytes.Buffer
			e := &escapeReader{now: func() time.Time { return clock }, onEscape: func() { fired++ }}
			var out []byte
			for _, chunk := range tc.input {
				in.Reset()
				in.WriteString(chunk)
				e.r = &in
				b, _ := io.ReadAll(e)
				out = append(out, b...)
				clock = clock.Add(400 * time.Millisecond)
			}
			if (fired == 1) != tc.fires || fired > 1 {
				t.Errorf("fired %d times, want fires=%v", fired, tc.fires)
			}
			want := ""
			for _, c := range tc.input {
				want += c
			}
			if string(out) != want {
				t.Errorf("passed through %q, want %q", out, want)
			}
		})
	}
}
