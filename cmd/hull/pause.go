package main

import (
	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libcontainer"
)

var pauseCommand = &cli.Command{
	Name:      "pause",
	Usage:     "freeze every process of a container",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		// Shared, as exec's: the freezer is the kernel's to serialise.
		return withContainer(c, true, func(ctr *libcontainer.Container) error { return ctr.Pause() })
	},
}

var resumeCommand = &cli.Command{
	Name:      "resume",
	Usage:     "thaw a paused container",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		// Shared: an `exec --ignore-paused` holds the shared lock while its
		// process sits frozen in the cgroup, and only resume can free it.
		return withContainer(c, true, func(ctr *libcontainer.Container) error { return ctr.Resume() })
	},
}

var featuresCommand = &cli.Command{
	Name:  "features",
	Usage: "print what this hull supports (runtime-spec features.md)",
	Action: func(c *cli.Context) error {
		return printJSON(libcontainer.Features())
	},
}
