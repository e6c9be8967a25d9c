package hullcmd

import (
	"encoding/json"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libcontainer"
)

// event is runc's `events` JSON shape, which engines parse.
type event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

func eventsCommand() *cli.Command {
	return &cli.Command{
		Name:      "events",
		Usage:     "print a container's resource stats and OOM events as JSON",
		ArgsUsage: "<container-id>",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "stats", Usage: "print stats once and exit"},
			&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "time between stats"},
		},
		Action: func(c *cli.Context) error {
			id, err := requireID(c)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(os.Stdout)
			stats := func() error {
				ctr, err := libcontainer.Load(c.String("root"), id, true)
				if err != nil {
					return err
				}
				defer ctr.Close()
				s, err := ctr.Stats()
				if err != nil {
					return err
				}
				return enc.Encode(event{Type: "stats", ID: id, Data: s})
			}
			if c.Bool("stats") {
				return stats()
			}
			ctr, err := libcontainer.Load(c.String("root"), id, true)
			if err != nil {
				return err
			}
			cg, err := ctr.CgroupManager()
			ctr.Close()
			if err != nil {
				return err
			}
			done := make(chan struct{})
			defer close(done)
			var ooms <-chan struct{}
			if cg != nil {
				ooms, _ = cg.NotifyOOM(done)
			}
			tick := time.NewTicker(c.Duration("interval"))
			defer tick.Stop()
			for {
				if err := stats(); err != nil {
					return err
				}
				select {
				case _, ok := <-ooms:
					if ok {
						enc.Encode(event{Type: "oom", ID: id})
					} else {
						ooms = nil
					}
				case <-tick.C:
				}
			}
		},
	}
}
