package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
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
	path, err := nspawnSidePath(self)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Command.Name, err)
	}
	err = unix.Exec(path, os.Args, os.Environ())
	return fmt.Errorf("%s: exec %s: %w", c.Command.Name, path, err)
}

// nspawnSidePath is hull-nspawn beside the hull binary self, checked to be
// an executable file so that a missing one is named as such.
func nspawnSidePath(self string) (string, error) {
	p := filepath.Join(filepath.Dir(self), nspawnSideName)
	st, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("needs %s beside hull (make build and make install put it there): %w", p, err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file (%v)", p, st.Mode())
	}
	return p, nil
}
