package hullcmd

import "testing"

func TestRootlessMode(t *testing.T) {
	const host = "         0          0 4294967295\n"
	const podman = "         0       1000          1\n         1     100000      65536\n"
	const rootMapped = "         0          0          1\n         1     100000      65536\n"
	tests := []struct {
		flag   string
		euid   int
		uidMap string
		want   bool
		bad    bool
	}{
		{"auto", 0, host, false, false},
		{"auto", 1000, host, true, false},
		{"", 1000, host, true, false},
		{"auto", 0, podman, true, false}, // rootless podman runs the runtime as uid 0 in its namespace
		{"auto", 0, rootMapped, false, false},
		{"auto", 0, "", true, false}, // no mapping at all: no host root
		{"true", 0, host, true, false},
		{"false", 1000, host, false, false},
		{"yes", 0, host, false, true},
	}
	for _, tc := range tests {
		got, err := rootlessMode(tc.flag, tc.euid, tc.uidMap)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("rootlessMode(%q, %d, %q) = %v, %v; want %v (error: %v)", tc.flag, tc.euid, tc.uidMap, got, err, tc.want, tc.bad)
		}
	}
}
