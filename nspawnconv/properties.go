package nspawnconv

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// propertySubset: the --property= names hull maps to linux.resources. Any
// other scope property needs systemd to apply it, so it is refused.
var propertySubset = []string{"MemoryMax", "MemoryHigh", "CPUQuota", "CPUWeight", "TasksMax", "IOWeight", "DeviceAllow"}

// applyProperty maps one NAME=VALUE scope property onto r, as systemd
// would apply it to the machine's scope on this cgroup version.
func (cv *converter) applyProperty(prop string, r *specs.LinuxResources) error {
	name, val, ok := strings.Cut(prop, "=")
	key := "--property=" + prop
	if !ok || name == "" {
		return &RefusedError{Key: key, Reason: "not NAME=VALUE"}
	}
	bad := func(err error) error { return &RefusedError{Key: key, Reason: err.Error()} }
	v2 := cv.o.CgroupV2
	unified := func(k, v string) {
		if r.Unified == nil {
			r.Unified = map[string]string{}
		}
		r.Unified[k] = v
	}
	switch name {
	case "MemoryMax":
		n, err := parseLimit(val, true)
		if err != nil {
			return bad(err)
		}
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		r.Memory.Limit = &n
	case "MemoryHigh":
		n, err := parseLimit(val, true)
		if err != nil {
			return bad(err)
		}
		if !v2 {
			cv.warn("%s: ignored, cgroup v1 has no memory.high (systemd ignores it there too)", key)
			return nil
		}
		unified("memory.high", limitString(n))
	case "CPUQuota":
		pct, ok := strings.CutSuffix(val, "%")
		f, err := strconv.ParseFloat(pct, 64)
		if !ok || err != nil || f <= 0 {
			return &RefusedError{Key: key, Reason: "want a positive percentage (CPUQuota=20%)"}
		}
		const period = 100000
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		r.CPU.Quota, r.CPU.Period = ptr(int64(math.Round(f*period/100))), ptr(uint64(period))
	case "CPUWeight":
		w, err := parseWeight(val)
		if err != nil {
			return bad(err)
		}
		if v2 {
			unified("cpu.weight", strconv.FormatUint(w, 10))
			return nil
		}
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		// systemd's cgroup_cpu_weight_to_shares: weight 100 = 1024 shares
		r.CPU.Shares = ptr(min(max(w*1024/100, 2), 262144))
	case "TasksMax":
		n, err := parseLimit(val, false)
		if err != nil {
			return bad(err)
		}
		r.Pids = &specs.LinuxPids{Limit: &n}
	case "IOWeight":
		w, err := parseWeight(val)
		if err != nil {
			return bad(err)
		}
		if v2 {
			unified("io.weight", "default "+strconv.FormatUint(w, 10))
			return nil
		}
		// systemd's cgroup_weight_io_to_blkio: 100 = blkio 500, within 10..1000
		if r.BlockIO == nil {
			r.BlockIO = &specs.LinuxBlockIO{}
		}
		r.BlockIO.Weight = ptr(uint16(min(max(w*500/100, 10), 1000)))
	case "DeviceAllow":
		rules, err := deviceAllowRules(val, "/proc/devices")
		if err != nil {
			return bad(err)
		}
		r.Devices = append(r.Devices, rules...)
	default:
		return &RefusedError{Key: key, Reason: fmt.Sprintf("only %s map to linux.resources; other scope properties need systemd to apply them", strings.Join(propertySubset, ", "))}
	}
	return nil
}

// parseLimit reads a systemd limit: a number, with K/M/G/T (base 1024)
// when bytes, or "infinity" (-1). Percentages need the host's totals at run
// time, which a bundle cannot express.
func parseLimit(v string, bytes bool) (int64, error) {
	if v == "infinity" {
		return -1, nil
	}
	if strings.HasSuffix(v, "%") {
		return 0, fmt.Errorf("percentage %q: give an absolute value", v)
	}
	mult := int64(1)
	if bytes && v != "" {
		if i := strings.IndexByte("KMGT", v[len(v)-1]); i >= 0 {
			mult = int64(1) << (10 * (i + 1))
			v = v[:len(v)-1]
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("value %q: want a non-negative number%s or infinity", v, map[bool]string{true: " (K, M, G, T suffixes)"}[bytes])
	}
	return n * mult, nil
}

func limitString(n int64) string {
	if n < 0 {
		return "max"
	}
	return strconv.FormatInt(n, 10)
}

func parseWeight(v string) (uint64, error) {
	w, err := strconv.ParseUint(v, 10, 64)
	if err != nil || w < 1 || w > 10000 {
		return 0, fmt.Errorf("weight %q: want 1…10000", v)
	}
	return w, nil
}

// setupResources adds the bound devices and the --property= subset to
// linux.resources (after nspawn's own device rules).
func (cv *converter) setupResources() error {
	r := cv.spec.Linux.Resources
	rules, err := cv.bindDeviceRules()
	if err != nil {
		return err
	}
	r.Devices = append(r.Devices, rules...)
	for _, p := range cv.s.Properties {
		if err := cv.applyProperty(p, r); err != nil {
			return err
		}
	}
	return nil
}

// scopeProperty is one --property= as the register hook hands it to
// systemd-machined for the machine's scope (CreateMachine's properties, as
// nspawn passes them): systemd's D-Bus name and a plain value — bytes,
// counts and weights as decimal uint64 (infinity as the maximum), CPUQuota
// as CPUQuotaPerSecUSec, DeviceAllow as "PATH ACCESS". applyProperty has
// refused every other name already.
func scopeProperty(prop string) (string, error) {
	name, val, _ := strings.Cut(prop, "=")
	u64 := func(n int64) string {
		if n < 0 {
			return strconv.FormatUint(math.MaxUint64, 10)
		}
		return strconv.FormatInt(n, 10)
	}
	switch name {
	case "MemoryMax", "MemoryHigh", "TasksMax":
		n, err := parseLimit(val, name != "TasksMax")
		return name + "=" + u64(n), err
	case "CPUQuota":
		f, err := strconv.ParseFloat(strings.TrimSuffix(val, "%"), 64)
		// systemd: percent × USEC_PER_SEC / 100
		return "CPUQuotaPerSecUSec=" + u64(int64(math.Round(f*10000))), err
	case "CPUWeight", "IOWeight":
		w, err := parseWeight(val)
		return name + "=" + strconv.FormatUint(w, 10), err
	case "DeviceAllow":
		dev, access, _ := strings.Cut(strings.TrimSpace(val), " ")
		if access = strings.TrimSpace(access); access == "" {
			access = "rwm"
		}
		return name + "=" + dev + " " + access, nil
	}
	return "", &RefusedError{Key: "--property=" + prop, Reason: "not a scope property hull passes to systemd-machined"}
}
