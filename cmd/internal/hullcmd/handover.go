package hullcmd

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

// Handover is commands a program lists and helps with but leaves to
// another program installed beside it (hull's nspawn side to hull-nspawn:
// the runtime's commands then start without the converter's packages,
// docs/design.md, "A slim runtime binary").
type Handover struct {
	Program  string         // file name beside the running binary
	Commands []*cli.Command // their flags are the other program's to parse
}

// commands are h's commands, each execing h.Program.
func (h Handover) commands() []*cli.Command {
	for _, cmd := range h.Commands {
		cmd.SkipFlagParsing = true
		cmd.Action = func(c *cli.Context) error { return execBeside(c, h.Program) }
	}
	return h.Commands
}

// execBeside execs program, beside the running binary, with this
// process's own arguments and environment: the same process goes on (its
// pid, stdio, cgroup and signals), so engines, units and hooks see no
// difference.
func execBeside(c *cli.Context, program string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("%s: locate %s: %w", c.Command.Name, program, err)
	}
	path, err := Beside(self, program)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Command.Name, err)
	}
	err = unix.Exec(path, os.Args, os.Environ())
	return fmt.Errorf("%s: exec %s: %w", c.Command.Name, path, err)
}

const handedOverKey = "handed over"

// handedOver reports whether the command line names a command another
// program runs: that program logs the command (--debug), this one does
// not, so the line is written once.
func handedOver(c *cli.Context) bool {
	names, _ := c.App.Metadata[handedOverKey].(map[string]bool)
	cmd := c.App.Command(c.Args().First())
	return cmd != nil && names[cmd.Name]
}
