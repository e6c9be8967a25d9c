package nspawnconv

import (
	"strings"
	"testing"
)

// TestReadUnitFileLongLines: lines up to systemd's 1 MiB are read, longer
// ones (also when joined by continuations) are refused naming file, line
// and key.
func TestReadUnitFileLongLines(t *testing.T) {
	const mib = 1 << 20
	prefix := "Environment=A="
	fill := func(total int) string { return prefix + strings.Repeat("x", total-len(prefix)) }
	tests := []struct {
		name    string
		body    string
		wantLen int    // length of the value read, when accepted
		wantErr string // substring of the error, when refused
	}{
		{"64KiB+1", "[Exec]\n" + fill(64*1024+1) + "\n", 64*1024 + 1 - len("Environment="), ""},
		{"exactly 1MiB", "[Exec]\n" + fill(mib) + "\n", mib - len("Environment="), ""},
		{"exactly 1MiB at EOF", "[Exec]\n" + fill(mib), mib - len("Environment="), ""},
		{"1MiB+1", "[Exec]\n\n" + fill(mib+1) + "\n", 0, "x.nspawn:3: Environment=: line longer than 1 MiB"},
		{"joined over 1MiB", "[Exec]\n" + fill(mib/2) + "\\\n" + strings.Repeat("y", mib/2+10) + "\n", 0, "x.nspawn:2: Environment=: line longer than 1 MiB"},
		{"no key", "[Exec]\n" + strings.Repeat("z", mib+5) + "\n", 0, "x.nspawn:2: line longer than 1 MiB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			as, _, err := ReadUnitFile(strings.NewReader(tc.body), "x.nspawn")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(as) != 1 || len(as[0].Value) != tc.wantLen || as[0].Key != "Environment" {
				t.Fatalf("got %d assignments, value length %d, want 1 of %d", len(as), len(as[0].Value), tc.wantLen)
			}
		})
	}
}
