package main

import (
	"os"

	"github.com/urfave/cli/v2"

	nspawnhooks "github.com/hull-runtime/hull/hooks/nspawn"
)

// nspawnHook runs a host action of a converted machine (`hull
// nspawn-hook ACTION ARGS…`): as an OCI hook, with the container's state
// on stdin where the action needs it, or by hand (prepare BUNDLE).
func nspawnHook(c *cli.Context) error {
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
}
