package hullcmd

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libcontainer"
)

func pauseCommand() *cli.Command {
	return &cli.Command{
		Name:      "pause",
		Usage:     "freeze every process of a container",
		ArgsUsage: "<container-id>",
		Action: func(c *cli.Context) error {
			return withContainer(c, false, func(ctr *libcontainer.Container) error { return ctr.Pause() })
		},
	}
}

func resumeCommand() *cli.Command {
	return &cli.Command{
		Name:      "resume",
		Usage:     "thaw a paused container",
		ArgsUsage: "<container-id>",
		Action: func(c *cli.Context) error {
			return withContainer(c, false, func(ctr *libcontainer.Container) error { return ctr.Resume() })
		},
	}
}

func featuresCommand() *cli.Command {
	return &cli.Command{
		Name:  "features",
		Usage: "show the enabled features (runtime-spec features.md, as JSON)",
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return fmt.Errorf("features: takes no arguments, got %q", c.Args().Slice())
			}
			f := libcontainer.Features()
			b := buildOf(c)
			f.Annotations[annotationVersion] = b.Version
			f.Annotations[annotationCommit] = b.Commit
			return printJSON(f)
		},
	}
}

// hull's own features annotations, as runc has org.opencontainers.runc.*.
const (
	annotationVersion = "org.hull.version"
	annotationCommit  = "org.hull.commit"
)
