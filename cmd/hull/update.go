package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libcontainer"
)

var updateCommand = &cli.Command{
	Name:      "update",
	Usage:     "change a container's resource limits",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "LinuxResources JSON file, - for stdin"},
		&cli.StringFlag{Name: "memory", Usage: "memory limit in bytes (suffixes k, m, g)"},
		&cli.StringFlag{Name: "memory-reservation", Usage: "memory soft limit"},
		&cli.StringFlag{Name: "memory-swap", Usage: "memory+swap limit, -1 for unlimited"},
		&cli.StringFlag{Name: "kernel-memory", Usage: "kernel memory limit (deprecated)"},
		&cli.StringFlag{Name: "kernel-memory-tcp", Usage: "kernel TCP memory limit (deprecated)"},
		&cli.Uint64Flag{Name: "cpu-shares", Usage: "cpu shares"},
		&cli.Int64Flag{Name: "cpu-quota", Usage: "CFS quota in µs"},
		&cli.Uint64Flag{Name: "cpu-period", Usage: "CFS period in µs"},
		&cli.Int64Flag{Name: "cpu-rt-runtime", Usage: "realtime runtime in µs"},
		&cli.Uint64Flag{Name: "cpu-rt-period", Usage: "realtime period in µs"},
		&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPUs allowed"},
		&cli.StringFlag{Name: "cpuset-mems", Usage: "memory nodes allowed"},
		&cli.Int64Flag{Name: "pids-limit", Usage: "maximum number of processes"},
		&cli.Uint64Flag{Name: "blkio-weight", Usage: "block IO weight (10-1000)"},
		&cli.StringFlag{Name: "l3-cache-schema", Usage: "Intel RDT (not supported)"},
		&cli.StringFlag{Name: "mem-bw-schema", Usage: "Intel RDT (not supported)"},
	},
	Action: func(c *cli.Context) error {
		r, err := updateResources(c)
		if err != nil {
			return err
		}
		return withContainer(c, false, func(ctr *libcontainer.Container) error { return ctr.Update(r) })
	},
}

func updateResources(c *cli.Context) (*specs.LinuxResources, error) {
	if c.String("l3-cache-schema") != "" || c.String("mem-bw-schema") != "" {
		return nil, fmt.Errorf("update: Intel RDT is not supported by hull on this host")
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
		if c.IsSet(f.name) {
			v, err := parseBytes(c.String(f.name))
			if err != nil {
				return nil, fmt.Errorf("--%s %q: %w", f.name, c.String(f.name), err)
			}
			*f.dst() = &v
		}
	}
	setFlag(c, "cpu-shares", c.Uint64, func(v *uint64) { cpu().Shares = v })
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

// parseBytes reads "512", "64k", "256m", "2g" or "-1".
func parseBytes(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	mult := int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult, s = 1<<10, s[:n-1]
		case 'm', 'M':
			mult, s = 1<<20, s[:n-1]
		case 'g', 'G':
			mult, s = 1<<30, s[:n-1]
		}
	}
	var v int64
	if _, err := fmt.Sscan(s, &v); err != nil || v < 0 {
		return 0, fmt.Errorf("not a size in bytes")
	}
	return v * mult, nil
}
