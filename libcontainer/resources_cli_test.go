package libcontainer

import (
	"encoding/json"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestUpdateMerge: an update keeps the fields it does not name (runc's
// update), and a lone CFS quota or period is completed with the current
// other half, so that the kernel checks the pair.
func TestUpdateMerge(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	u64 := func(v uint64) *uint64 { return &v }
	cur := &specs.LinuxResources{
		CPU:    &specs.LinuxCPU{Quota: i64(50000), Period: u64(100000), Cpus: "0-1"},
		Memory: &specs.LinuxMemory{Limit: i64(1 << 30)},
	}
	for _, tc := range []struct {
		name            string
		upd             *specs.LinuxResources
		wantSet, wantSv string // JSON of the CPU section written, and saved
	}{
		{"cpuset alone", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0"}},
			`{"cpus":"0"}`, `{"quota":50000,"period":100000,"cpus":"0"}`},
		{"period alone", &specs.LinuxResources{CPU: &specs.LinuxCPU{Period: u64(50000)}},
			`{"quota":50000,"period":50000}`, `{"quota":50000,"period":50000,"cpus":"0-1"}`},
		{"quota alone", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(20000)}},
			`{"quota":20000,"period":100000}`, `{"quota":20000,"period":100000,"cpus":"0-1"}`},
		{"both", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(1), Period: u64(2)}},
			`{"quota":1,"period":2}`, `{"quota":1,"period":2,"cpus":"0-1"}`},
	} {
		set := withCPUPair(cur, tc.upd)
		if got := jsonOf(t, set.CPU); got != tc.wantSet {
			t.Errorf("%s: written %s, want %s", tc.name, got, tc.wantSet)
		}
		saved := mergeResources(cur, set)
		if got := jsonOf(t, saved.CPU); got != tc.wantSv {
			t.Errorf("%s: saved %s, want %s", tc.name, got, tc.wantSv)
		}
		if saved.Memory == nil || *saved.Memory.Limit != 1<<30 {
			t.Errorf("%s: memory lost: %+v", tc.name, saved.Memory)
		}
	}
	if *cur.CPU.Quota != 50000 || cur.CPU.Cpus != "0-1" {
		t.Errorf("the current resources were modified: %s", jsonOf(t, cur.CPU))
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
