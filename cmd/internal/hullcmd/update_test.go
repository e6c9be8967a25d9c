package hullcmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
)

// TestParseBytes: sizes read as runc reads them (go-units' RAMInBytes:
// binary multiples, any case, decimals, optional b/ib), -1 for unlimited,
// and everything else refused, overflow included, rather than cut short.
func TestParseBytes(t *testing.T) {
	const mib, gib = int64(1 << 20), int64(1 << 30)
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"512", 512},
		{"512b", 512},
		{"512B", 512},
		{"0", 0},
		{"64k", 64 << 10},
		{"64K", 64 << 10},
		{"64kb", 64 << 10},
		{"64KiB", 64 << 10},
		{"100m", 100 * mib},
		{"100M", 100 * mib},
		{"100mb", 100 * mib},
		{"100MB", 100 * mib},
		{"100MiB", 100 * mib},
		{"100 m", 100 * mib},
		{"512MB", 512 * mib},
		{"1.5g", 1610612736},
		{"2g", 2 * gib},
		{"2GiB", 2 * gib},
		{"1t", 1 << 40},
		{"8589934591g", 8589934591 * gib}, // the largest whole number of GiB
		{"-1", -1},
	} {
		got, err := parseBytes(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{
		"2x", "abc", "", "-2", "-1k", "1.5.5g", "100mbb", "100bm", "0x10", "1e400", "m",
		"17179869185g",        // 2^64 + 1 GiB: wrapped to 1 GiB before
		"8589934592g",         // 2^63 exactly
		"9223372036854775807", // MaxInt64 as a float is 2^63
	} {
		if got, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) = %d, want an error", in, got)
		}
	}
}

// TestUpdateFlags: the size flags land in the fields runc puts them in,
// an empty value is no value (as in runc), flags override --resources,
// and a bad value fails naming the flag and the value, with no resources.
func TestUpdateFlags(t *testing.T) {
	doc := filepath.Join(t.TempDir(), "r.json")
	if err := os.WriteFile(doc, []byte(`{"memory":{"limit":1048576,"swap":2097152},"devices":[{"allow":false,"access":"rwm"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string // JSON of the resources
	}{
		{[]string{"--memory-reservation", "512MB"}, `{"memory":{"reservation":536870912}}`},
		{[]string{"--memory", "100mb", "--memory-swap", "-1"}, `{"memory":{"limit":104857600,"swap":-1}}`},
		{[]string{"--memory", "1.5g"}, `{"memory":{"limit":1610612736}}`},
		{[]string{"--memory", "-1"}, `{"memory":{"limit":-1}}`},
		{[]string{"--memory", ""}, `{}`},
		{[]string{"--kernel-memory", "64m", "--kernel-memory-tcp", "1MiB"}, `{"memory":{"kernel":67108864,"kernelTCP":1048576}}`},
		{[]string{"-r", doc, "--memory", "3m"},
			`{"devices":[{"allow":false,"access":"rwm"}],"memory":{"limit":3145728,"swap":2097152}}`},
	} {
		r, err := runUpdateFlags(t, tc.args...)
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if got, err := json.Marshal(r); err != nil || string(got) != tc.want {
			t.Errorf("%q: %s (%v), want %s", tc.args, got, err, tc.want)
		}
	}
	for _, args := range [][]string{
		{"--memory", "2x"},
		{"--memory-reservation", "1.5.5g"},
		{"--memory-swap", "17179869185g"},
		{"--memory", "64m", "--memory-swap", "-2"},
	} {
		r, err := runUpdateFlags(t, args...)
		flag, value := args[len(args)-2], args[len(args)-1]
		if err == nil || !strings.Contains(err.Error(), flag) || !strings.Contains(err.Error(), `"`+value+`"`) {
			t.Errorf("%q: err %v, want one naming %s and %q", args, err, flag, value)
		}
		if r != nil {
			t.Errorf("%q: resources %+v returned with the error", args, r)
		}
	}
}

// runUpdateFlags parses args with update's flags and returns what
// updateResources makes of them.
func runUpdateFlags(t *testing.T, args ...string) (*specs.LinuxResources, error) {
	t.Helper()
	var r *specs.LinuxResources
	var perr error
	parseWith(t, updateCommand(), append(args, "id"), func(c *cli.Context) { r, perr = updateResources(c) })
	return r, perr
}
