package cgroups

import (
	"encoding/json"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FuzzResources: an `update --resources` document (linux.resources), as
// decoded and validated for both cgroup versions. Never a panic.
func FuzzResources(f *testing.F) {
	f.Add([]byte(`{"memory":{"limit":104857600,"swap":209715200},"cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0-1"},"pids":{"limit":10}}`))
	f.Add([]byte(`{"blockIO":{"weight":500,"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}]},"hugepageLimits":[{"pageSize":"2MB","limit":0}]}`))
	f.Add([]byte(`{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}],"unified":{"memory.high":"max"}}`))
	f.Add([]byte(`{"memory":{"limit":-1,"reservation":-2},"cpu":{"quota":-5,"realtimeRuntime":-1},"network":{"classID":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r specs.LinuxResources
		if json.Unmarshal(data, &r) != nil {
			return
		}
		_ = validateResources(&r)
		_ = validateV2(&r)
	})
}
