package hullcmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	units "github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libcontainer"
)

func updateCommand() *cli.Command {
	return &cli.Command{
		Name:      "update",
		Usage:     "change a container's resource limits",
		ArgsUsage: "<container-id>",
		// Names and help as runc spells them; hull's earlier spellings stay as
		// aliases.
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "path to the file containing the resources to update or '-' to read from the standard input (a runtime-spec LinuxResources document; flags given too override its fields)"},
			&cli.Uint64Flag{Name: "blkio-weight", Usage: "Specifies per cgroup weight, range is from 10 to 1000"},
			&cli.Uint64Flag{Name: "cpu-period", Usage: "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default"},
			&cli.Int64Flag{Name: "cpu-quota", Usage: "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"},
			&cli.Uint64Flag{Name: "cpu-burst", Usage: "CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst a given period"},
			&cli.Uint64Flag{Name: "cpu-share", Aliases: []string{"cpu-shares"}, Usage: "CPU shares (relative weight vs. other containers)"},
			&cli.Uint64Flag{Name: "cpu-rt-period", Usage: "CPU realtime period to be used for hardcapping (in usecs). 0 to use system default"},
			&cli.Int64Flag{Name: "cpu-rt-runtime", Usage: "CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period"},
			&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPU(s) to use"},
			&cli.StringFlag{Name: "cpuset-mems", Usage: "Memory node(s) to use"},
			&cli.StringFlag{Name: "kernel-memory", Usage: "(obsoleted; do not use)", Hidden: true},
			&cli.StringFlag{Name: "kernel-memory-tcp", Usage: "(obsoleted; do not use)", Hidden: true},
			&cli.StringFlag{Name: "memory", Usage: "Memory limit (in bytes)"},
			&cli.Int64Flag{Name: "cpu-idle", Usage: "set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE"},
			&cli.StringFlag{Name: "memory-reservation", Usage: "Memory reservation or soft_limit (in bytes)"},
			&cli.StringFlag{Name: "memory-swap", Usage: "Total memory usage (memory + swap); set '-1' to enable unlimited swap"},
			&cli.Int64Flag{Name: "pids-limit", Usage: "Maximum number of pids allowed in the container"},
			&cli.StringFlag{Name: "l3-cache-schema", Usage: "The string of Intel RDT/CAT L3 cache schema"},
			&cli.StringFlag{Name: "mem-bw-schema", Usage: "The string of Intel RDT/MBA memory bandwidth schema"},
		},
		Action: func(c *cli.Context) error {
			r, err := updateResources(c)
			if err != nil {
				return err
			}
			return withContainer(c, false, func(ctr *libcontainer.Container) error { return ctr.Update(r) })
		},
	}
}

func updateResources(c *cli.Context) (*specs.LinuxResources, error) {
	if c.String("l3-cache-schema") != "" || c.String("mem-bw-schema") != "" {
		// runc's words, for scripts that match them.
		if c.String("l3-cache-schema") != "" {
			return nil, errors.New("Intel RDT/CAT: l3 cache schema is not enabled") //lint:ignore ST1005 runc's text
		}
		return nil, errors.New("Intel RDT/MBA: memory bandwidth schema is not enabled") //lint:ignore ST1005 runc's text
	}
	r := &specs.LinuxResources{}
	if path := c.String("resources"); path != "" {
		var data []byte
		var err error
		if path == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(path)
		}
		if err != nil {
			return nil, fmt.Errorf("--resources %s: %w", path, err)
		}
		if err := json.Unmarshal(data, r); err != nil {
			return nil, fmt.Errorf("--resources %s: invalid JSON: %w", path, err)
		}
	}
	mem := func() *specs.LinuxMemory {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		return r.Memory
	}
	cpu := func() *specs.LinuxCPU {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		return r.CPU
	}
	for _, f := range []struct {
		name string
		dst  func() **int64
	}{
		{"memory", func() **int64 { return &mem().Limit }},
		{"memory-reservation", func() **int64 { return &mem().Reservation }},
		{"memory-swap", func() **int64 { return &mem().Swap }},
		//lint:ignore SA1019 deprecated by the spec, still honoured by runtimes
		{"kernel-memory", func() **int64 { return &mem().Kernel }},
		{"kernel-memory-tcp", func() **int64 { return &mem().KernelTCP }},
	} {
		// An empty value is no value, as in runc: scripts pass "$MEM".
		if s := c.String(f.name); s != "" {
			v, err := parseBytes(s)
			if err != nil {
				return nil, fmt.Errorf("invalid value for %s: --%s %q: %w", f.name, f.name, s, err)
			}
			*f.dst() = &v
		}
	}
	setFlag(c, "cpu-share", c.Uint64, func(v *uint64) { cpu().Shares = v })
	setFlag(c, "cpu-burst", c.Uint64, func(v *uint64) { cpu().Burst = v })
	setFlag(c, "cpu-idle", c.Int64, func(v *int64) { cpu().Idle = v })
	setFlag(c, "cpu-quota", c.Int64, func(v *int64) { cpu().Quota = v })
	setFlag(c, "cpu-period", c.Uint64, func(v *uint64) { cpu().Period = v })
	setFlag(c, "cpu-rt-runtime", c.Int64, func(v *int64) { cpu().RealtimeRuntime = v })
	setFlag(c, "cpu-rt-period", c.Uint64, func(v *uint64) { cpu().RealtimePeriod = v })
	if c.IsSet("cpuset-cpus") {
		cpu().Cpus = c.String("cpuset-cpus")
	}
	if c.IsSet("cpuset-mems") {
		cpu().Mems = c.String("cpuset-mems")
	}
	if c.IsSet("pids-limit") {
		v := c.Int64("pids-limit")
		r.Pids = &specs.LinuxPids{Limit: &v}
	}
	if c.IsSet("blkio-weight") {
		v := uint16(c.Uint64("blkio-weight"))
		r.BlockIO = &specs.LinuxBlockIO{Weight: &v}
	}
	return r, nil
}

// setFlag hands set a pointer to the flag's value, only when the flag was
// given: an unset flag leaves what --resources said.
func setFlag[T any](c *cli.Context, name string, get func(string) T, set func(*T)) {
	if c.IsSet(name) {
		v := get(name)
		set(&v)
	}
}

// parseBytes reads a size as runc does, with go-units' RAMInBytes
// ("512", "1.5g", "100MiB": binary multiples, any case), or "-1" for
// unlimited.
func parseBytes(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	v, err := units.RAMInBytes(s)
	if err != nil {
		return 0, err
	}
	// RAMInBytes converts a float without a range check: past 2^63 the
	// result is the CPU's (MinInt64 on amd64, MaxInt64 on arm64), and a
	// kernel given either would refuse it or take it as no limit at all.
	if v < 0 || v == math.MaxInt64 {
		return 0, fmt.Errorf("out of range: more than %d bytes", int64(math.MaxInt64))
	}
	return v, nil
}
