package hullcmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libcontainer"
)

func psCommand() *cli.Command {
	return &cli.Command{
		Name:      "ps",
		Usage:     "list a container's processes",
		ArgsUsage: "<container-id> [ps options]",
		Flags:     []cli.Flag{&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table (ps output) or json (host pids)"}},
		Action: func(c *cli.Context) error {
			var pids []int
			err := withContainer(c, true, func(ctr *libcontainer.Container) error {
				// A stopped container has no processes: runc prints an empty
				// list (the table's header, or JSON null), not an error.
				var err error
				pids, err = ctr.Pids()
				return err
			})
			if err != nil {
				return err
			}
			switch c.String("format") {
			case "json":
				// One line, as runc writes it.
				return json.NewEncoder(os.Stdout).Encode(pids)
			case "table":
				return psTable(pids, c.Args().Tail())
			default:
				return fmt.Errorf("--format %q: must be table or json", c.String("format"))
			}
		},
	}
}

// psTable runs ps with the given options (default -ef) and keeps the
// header and the lines of the container's processes.
func psTable(pids []int, args []string) error {
	if len(args) == 0 {
		args = []string{"-ef"}
	}
	out, err := exec.Command("ps", args...).Output()
	if err != nil {
		return fmt.Errorf("ps %s: %w", strings.Join(args, " "), err)
	}
	lines := bytes.Split(bytes.TrimRight(out, "\n"), []byte("\n"))
	col := -1
	for i, f := range strings.Fields(string(lines[0])) {
		if f == "PID" {
			col = i
		}
	}
	if col < 0 {
		return fmt.Errorf("ps %s: output has no PID column", strings.Join(args, " "))
	}
	in := map[int]bool{}
	for _, p := range pids {
		in[p] = true
	}
	fmt.Fprintln(os.Stdout, string(lines[0]))
	for _, l := range lines[1:] {
		f := strings.Fields(string(l))
		if col < len(f) {
			if pid, err := strconv.Atoi(f[col]); err == nil && in[pid] {
				fmt.Fprintln(os.Stdout, string(l))
			}
		}
	}
	return nil
}
