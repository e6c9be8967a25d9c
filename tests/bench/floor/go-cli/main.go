// Command go-cli is one of the floor case's probes (tests/bench/floor.go):
// go-start plus urfave/cli/v2, hull's command-line library, parsing a
// `run --bundle B ID` command line and doing nothing with it. Its peak
// RSS less go-start's is what the library alone costs a hull command.
package main

import (
	"os"

	"github.com/urfave/cli/v2"

	_ "runtime/cgo" // linked as hull is: the C start and cgo's runtime
)

func main() {
	run := &cli.Command{
		Name:      "run",
		Flags:     []cli.Flag{&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}}},
		ArgsUsage: "ID",
		Action: func(c *cli.Context) error {
			if c.String("bundle") == "" || c.NArg() != 1 {
				return cli.Exit("usage: go-cli run --bundle B ID", 2)
			}
			return nil
		},
	}
	app := &cli.App{Name: "go-cli", Commands: []*cli.Command{run}}
	if err := app.Run(os.Args); err != nil {
		os.Exit(1)
	}
}
