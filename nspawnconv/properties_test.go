package nspawnconv

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestApplyProperty(t *testing.T) {
	cases := []struct {
		prop  string
		v2    bool
		check func(r *specs.LinuxResources) bool
	}{
		{"MemoryMax=512M", false, func(r *specs.LinuxResources) bool { return *r.Memory.Limit == 512<<20 }},
		{"MemoryMax=infinity", false, func(r *specs.LinuxResources) bool { return *r.Memory.Limit == -1 }},
		{"MemoryMax=1073741824", false, func(r *specs.LinuxResources) bool { return *r.Memory.Limit == 1<<30 }},
		{"MemoryHigh=1G", true, func(r *specs.LinuxResources) bool { return r.Unified["memory.high"] == "1073741824" }},
		{"MemoryHigh=1G", false, func(r *specs.LinuxResources) bool { return r.Unified == nil }},
		{"CPUQuota=50%", false, func(r *specs.LinuxResources) bool { return *r.CPU.Quota == 50000 && *r.CPU.Period == 100000 }},
		{"CPUQuota=250%", false, func(r *specs.LinuxResources) bool { return *r.CPU.Quota == 250000 }},
		{"CPUWeight=200", false, func(r *specs.LinuxResources) bool { return *r.CPU.Shares == 2048 }},
		{"CPUWeight=200", true, func(r *specs.LinuxResources) bool { return r.Unified["cpu.weight"] == "200" }},
		{"TasksMax=100", false, func(r *specs.LinuxResources) bool { return *r.Pids.Limit == 100 }},
		{"IOWeight=50", false, func(r *specs.LinuxResources) bool { return *r.BlockIO.Weight == 250 }},
		{"IOWeight=10000", false, func(r *specs.LinuxResources) bool { return *r.BlockIO.Weight == 1000 }},
		{"IOWeight=50", true, func(r *specs.LinuxResources) bool { return r.Unified["io.weight"] == "default 50" }},
		{"DeviceAllow=/dev/null r", false, func(r *specs.LinuxResources) bool {
			d := r.Devices[0]
			return d.Allow && d.Type == "c" && *d.Major == 1 && *d.Minor == 3 && d.Access == "r"
		}},
		{"DeviceAllow=char-mem", false, func(r *specs.LinuxResources) bool {
			d := r.Devices[0]
			return d.Type == "c" && *d.Major == 1 && d.Minor == nil && d.Access == "rwm"
		}},
	}
	for _, c := range cases {
		cv := &converter{o: Options{CgroupV2: c.v2}, c: &Conversion{}}
		r := &specs.LinuxResources{}
		if err := cv.applyProperty(c.prop, r); err != nil || !c.check(r) {
			t.Errorf("%s (v2 %v): err %v, resources %+v", c.prop, c.v2, err, r)
		}
	}
	for _, bad := range []string{"CPUAccounting=yes", "Delegate=yes", "MemoryMax=10%", "MemoryMax=lots", "CPUQuota=50",
		"CPUWeight=0", "IOWeight=20000", "DeviceAllow=/etc/passwd", "DeviceAllow=/dev/null x", "DeviceAllow=char-nonesuch", "noequals"} {
		cv := &converter{c: &Conversion{}}
		var re *RefusedError
		if err := cv.applyProperty(bad, &specs.LinuxResources{}); !errors.As(err, &re) || re.Reason == "" {
			t.Errorf("%s: err %v, want a refusal with its reason", bad, err)
		}
	}
}

func TestBindDeviceRules(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cv := &converter{s: &Settings{Binds: []BindMount{
		{Source: "/dev/null", Dest: "/dev/null2"},
		{Source: "/dev/zero", Dest: "/z", ReadOnly: true},
		{Source: filepath.Join(dir, "file"), Dest: "/f"},
		{Source: "/dev", Dest: "/hostdev"}, // a directory allows nothing, as in nspawn
		{Source: filepath.Join(dir, "missing"), Dest: "/m"},
	}}}
	rules, err := cv.bindDeviceRules()
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 || *rules[0].Minor != 3 || rules[0].Access != "rw" || *rules[1].Minor != 5 || rules[1].Access != "r" {
		t.Errorf("rules %+v", rules)
	}
}
