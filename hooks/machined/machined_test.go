package machined

import (
	"bytes"
	"reflect"
	"strings"
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

func TestScopeProperty(t *testing.T) {
	tests := []struct {
		in   string
		want any // nil: refused
	}{
		{"MemoryMax=314572800", uint64(314572800)},
		{"TasksMax=18446744073709551615", uint64(18446744073709551615)},
		{"CPUQuotaPerSecUSec=500000", uint64(500000)},
		{"CPUWeight=200", uint64(200)},
		{"DeviceAllow=/dev/fuse rw", []deviceRule{{"/dev/fuse", "rw"}}},
		{"DeviceAllow=char-pts rw", []deviceRule{{"char-pts", "rw"}}},
		{"DeviceAllow=fuse rw", nil},
		{"MemoryMax=1G", nil},
		{"MemoryMax=", nil},
		{"KillMode=mixed", nil},
		{"junk", nil},
	}
	for _, tc := range tests {
		got, err := scopeProperty(tc.in)
		if tc.want == nil {
			if err == nil {
				t.Errorf("scopeProperty(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		name, _, _ := strings.Cut(tc.in, "=")
		if err != nil || got.Name != name || !reflect.DeepEqual(got.Value.Value(), tc.want) {
			t.Errorf("scopeProperty(%q) = %+v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// TestScopeKillSignal: a machine with a kill signal gets it on its scope
// with KillMode=mixed, as nspawn's scope; without one, neither.
func TestScopeKillSignal(t *testing.T) {
	for _, tc := range []struct {
		sig  int
		want map[string]any
	}{
		{37, map[string]any{"KillSignal": int32(37), "KillMode": "mixed"}},
		{0, map[string]any{}},
	} {
		props, err := scopeProperties(Machine{Name: "m", KillSignal: tc.sig})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]any{}
		for _, p := range props {
			if p.Name == "KillSignal" || p.Name == "KillMode" {
				got[p.Name] = p.Value.Value()
			}
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("kill signal %d: scope has %v, want %v", tc.sig, got, tc.want)
		}
	}
}
