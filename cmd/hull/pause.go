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
		return withContainer(c, false, func(ctr *libcontainer.Container) error { return ctr.Pause() })
	},
}

var resumeCommand = &cli.Command{
	Name:      "resume",
	Usage:     "thaw a paused container",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		return withContainer(c, false, func(ctr *libcontainer.Container) error { return ctr.Resume() })
	},
}

var featuresCommand = &cli.Command{
	Name:  "features",
	Usage: "print what this hull supports (runtime-spec features.md)",
	Action: func(c *cli.Context) error {
		return printJSON(libcontainer.Features())
	},
}
