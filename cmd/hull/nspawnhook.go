package main

import (
	"os"

	"github.com/urfave/cli/v2"

	nspawnhooks "github.com/hull-runtime/hull/hooks/nspawn"
)

var nspawnHookCommand = &cli.Command{
	Name:      "nspawn-hook",
	Usage:     "host actions of converted machines, run as OCI hooks (chown-cgroup, add-veth, umount, …) or by hand (prepare BUNDLE)",
	ArgsUsage: "ACTION [ARGS…]",
	Hidden:    true,
	Action: func(c *cli.Context) error {
		args := c.Args().Slice()
		if len(args) == 0 {
			return cli.Exit("nspawn-hook: missing action", 2)
		}
		action := args[0]
		if !nspawnhooks.NeedsState(action) {
			return nspawnhooks.RunAction(action, args[1:], nil)
		}
		state, err := nspawnhooks.ReadState(os.Stdin)
		if err != nil {
			return err
		}
		return nspawnhooks.RunAction(action, args[1:], state)
	},
}
