package cgroups

import (
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// setCPUV2 writes cpu.weight, cpu.idle, cpu.max and cpu.max.burst. The
// kernel refuses a burst above the quota in either file, so the burst is
// tried before cpu.max (for a shrinking burst) and, if refused, again after
// it (for a growing quota).
func setCPUV2(dir string, c *specs.LinuxCPU) error {
	if c == nil {
		return nil
	}
	var ws []v2Write
	if nzu(c.Shares) {
		ws = append(ws, v2Write{"cpu.shares", "cpu.weight", strconv.FormatUint(sharesToWeight(*c.Shares), 10)})
	}
	if c.Idle != nil {
		ws = append(ws, v2Write{"cpu.idle", "cpu.idle", i64(*c.Idle)})
	}
	if err := writeAllV2(dir, ws); err != nil {
		return err
	}
	var burst []v2Write
	var burstErr error
	if c.Burst != nil {
		burst = []v2Write{{"cpu.burst", "cpu.max.burst", strconv.FormatUint(*c.Burst, 10)}}
		burstErr = writeAllV2(dir, burst)
	}
	if nz(c.Quota) || nzu(c.Period) {
		quota, period, err := cpuMaxV2(dir, c)
		if err != nil {
			return err
		}
		if err := writeAllV2(dir, []v2Write{{"cpu.quota", "cpu.max", quota + " " + period}}); err != nil {
			return err
		}
	}
	if burstErr != nil {
		return writeAllV2(dir, burst)
	}
	return nil
}

// cpuMaxV2 merges the spec's quota and period with cpu.max's current
// values, so an update of one keeps the other.
func cpuMaxV2(dir string, c *specs.LinuxCPU) (quota, period string, err error) {
	quota, period = "max", "100000"
	if cur, rerr := readFile(dir, "cpu.max"); rerr == nil {
		if f := strings.Fields(cur); len(f) == 2 {
			quota, period = f[0], f[1]
		}
	}
	if nz(c.Quota) {
		quota = maxOr(*c.Quota)
	}
	if nzu(c.Period) {
		if *c.Period < 1000 || *c.Period > 1000000 {
			return "", "", fmt.Errorf("linux.resources.cpu.period: invalid value %d: must be 1000-1000000 microseconds", *c.Period)
		}
		period = strconv.FormatUint(*c.Period, 10)
	}
	return quota, period, nil
}

// ioWritesV2 maps blockIO onto io.bfq.weight when BFQ is there (same 10-1000
// scale as blkio.weight) or io.weight (converted to 1-10000), and the
// throttles onto io.max, where 0 (v1's "no limit") becomes "max".
func ioWritesV2(dir string, b *specs.LinuxBlockIO) []v2Write {
	if b == nil {
		return nil
	}
	bfq := fileExists(dir, "io.bfq.weight")
	weight := func(w uint16) string {
		if bfq {
			return strconv.FormatUint(uint64(w), 10)
		}
		return strconv.FormatUint(blkioToIOWeight(w), 10)
	}
	file := "io.weight"
	if bfq {
		file = "io.bfq.weight"
	}
	var ws []v2Write
	if nzu16(b.Weight) {
		v := weight(*b.Weight)
		if !bfq {
			v = "default " + v
		}
		ws = append(ws, v2Write{"blockIO.weight", file, v})
	}
	for i, d := range b.WeightDevice {
		if d.Weight != nil && *d.Weight != 0 {
			ws = append(ws, v2Write{fmt.Sprintf("blockIO.weightDevice[%d]", i), file,
				fmt.Sprintf("%d:%d %s", d.Major, d.Minor, weight(*d.Weight))})
		}
	}
	for _, t := range []struct {
		field, key string
		devs       []specs.LinuxThrottleDevice
	}{{"throttleReadBpsDevice", "rbps", b.ThrottleReadBpsDevice},
		{"throttleWriteBpsDevice", "wbps", b.ThrottleWriteBpsDevice},
		{"throttleReadIOPSDevice", "riops", b.ThrottleReadIOPSDevice},
		{"throttleWriteIOPSDevice", "wiops", b.ThrottleWriteIOPSDevice}} {
		for i, d := range t.devs {
			v := "max"
			if d.Rate != 0 {
				v = strconv.FormatUint(d.Rate, 10)
			}
			ws = append(ws, v2Write{fmt.Sprintf("blockIO.%s[%d]", t.field, i), "io.max",
				fmt.Sprintf("%d:%d %s=%s", d.Major, d.Minor, t.key, v)})
		}
	}
	return ws
}
