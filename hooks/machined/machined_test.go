package machined

import (
	"bytes"
	"testing"
)

func TestScopeName(t *testing.T) {
	for in, want := range map[string]string{
		"deb":    "machine-deb.scope",
		"my-box": `machine-my\x2dbox.scope`,
		".hid":   `machine-\x2ehid.scope`,
	} {
		if got := ScopeName(in); got != want {
			t.Errorf("ScopeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMachineID(t *testing.T) {
	tests := []struct {
		in   string
		want []byte
		err  bool
	}{
		{"", []byte{}, false},
		{"000102030405060708090a0b0c0d0e0f", []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, false},
		{"00010203-0405-0607-0809-0a0b0c0d0e0f", []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, false},
		{"0001", nil, true},
		{"zz0102030405060708090a0b0c0d0e0f", nil, true},
	}
	for _, tc := range tests {
		got, err := machineID(tc.in)
		if (err != nil) != tc.err || !bytes.Equal(got, tc.want) {
			t.Errorf("machineID(%q) = %v, %v", tc.in, got, err)
		}
	}
}
