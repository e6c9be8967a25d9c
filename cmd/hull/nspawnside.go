package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/cmd/internal/hullcmd"
)

// nspawnSideName is the program of `hull nspawn`, `hull convert` and
// `hull nspawn-hook` (cmd/hull-nspawn), installed beside hull: the
// converter and what only it needs stay out of every runtime command's
// start (docs/design.md, "A slim runtime binary").
const nspawnSideName = "hull-nspawn"

// toNspawnSide execs hull-nspawn with hull's own arguments and
// environment: the same process goes on (its pid, stdio, cgroup and
// signals), so engines, units and hooks see no difference.
func toNspawnSide(c *cli.Context) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("%s: locate %s: %w", c.Command.Name, nspawnSideName, err)
	}
	path, err := hullcmd.Beside(self, nspawnSideName)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Command.Name, err)
	}
	err = unix.Exec(path, os.Args, os.Environ())
	return fmt.Errorf("%s: exec %s: %w", c.Command.Name, path, err)
}
