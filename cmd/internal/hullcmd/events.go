package hullcmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libcontainer"
	"github.com/hull-runtime/hull/libcontainer/cgroups"
	"github.com/hull-runtime/hull/libcontainer/state"
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
		Action: runEvents,
	}
}

func runEvents(c *cli.Context) error {
	id, err := requireID(c)
	if err != nil {
		return err
	}
	// Checked with --stats too, as runc does, and before the ticker, which
	// panics on a non-positive interval.
	interval := c.Duration("interval")
	if err := checkInterval(interval); err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	root := c.String("root")
	if c.Bool("stats") {
		return printStatsOnce(enc, root, id)
	}
	cg, err := eventsCgroup(root, id)
	if err != nil {
		return err
	}
	done := make(chan struct{})
	defer close(done)
	ooms, err := cg.NotifyOOM(done)
	if err != nil {
		return fmt.Errorf("container %q: watch OOM events: %w", id, err)
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	s := &eventStream{
		id:     id,
		enc:    enc,
		stats:  func() (any, error) { return cg.Stats() },
		gone:   func() bool { return containerGone(root, id) },
		logErr: func(err error) { logEventsError(c, err) },
	}
	return s.run(ooms, tick.C)
}

// checkInterval refuses an --interval the stream cannot tick at.
func checkInterval(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("events: --interval %s: the interval between stats must be greater than 0", d)
	}
	return nil
}

// printStatsOnce is `events --stats`: one stats line, refused (by Stats)
// unless the container is created, running or paused.
func printStatsOnce(enc *json.Encoder, root, id string) error {
	ctr, err := libcontainer.Load(root, id, true)
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

// eventsCgroup checks, as runc does, that the container may be watched
// (not stopped) and returns its cgroup. The state is closed again at once:
// the stream must not hold the container's lock, or delete would wait.
func eventsCgroup(root, id string) (cgroups.Manager, error) {
	ctr, err := libcontainer.Load(root, id, true)
	if err != nil {
		return nil, err
	}
	defer ctr.Close()
	if err := ctr.Require(libcontainer.OpStats); err != nil {
		return nil, err
	}
	cg, err := ctr.CgroupManager()
	if err != nil {
		return nil, err
	}
	if cg == nil {
		// Stats words the refusal for a container without a cgroup.
		if _, err := ctr.Stats(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("container %q: events needs the container's cgroup, and it has none", id)
	}
	return cg, nil
}

// containerGone reports whether the container was deleted.
func containerGone(root, id string) bool {
	ctr, err := libcontainer.Load(root, id, true)
	if err != nil {
		return errors.Is(err, state.ErrNotExist)
	}
	ctr.Close()
	return false
}

// logEventsError reports an error the stream survives the way runc's
// logrus does: a level=error line in the --log file when there is one,
// else on stderr.
func logEventsError(c *cli.Context, err error) {
	format := c.String("log-format")
	if path := c.String("log"); path != "" {
		if f, ferr := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); ferr == nil {
			writeLog(f, format, "error", err.Error())
			f.Close()
			return
		}
	}
	writeLog(os.Stderr, format, "error", err.Error())
}

// eventStream is the streaming `events` loop, runc's: stats on each tick
// only, an oom line on each OOM event, and the end, with success, when the
// OOM channel closes because the cgroup was removed (the container was
// deleted). The cgroup outlives the init until delete, so a stopped
// container still gets stats lines, as under runc.
type eventStream struct {
	id     string
	enc    *json.Encoder
	stats  func() (any, error)
	gone   func() bool // the container was deleted
	logErr func(error)
}

func (s *eventStream) run(ooms <-chan struct{}, ticks <-chan time.Time) error {
	for {
		select {
		case _, ok := <-ooms:
			if !ok {
				return nil
			}
			if err := s.emit(event{Type: "oom", ID: s.id}); err != nil {
				return err
			}
		case <-ticks:
			if end, err := s.tick(); end || err != nil {
				return err
			}
		}
	}
}

// tick prints the stats. A failure to read them is logged and the stream
// goes on, as runc's does (the cgroup may be going away with a delete
// whose OOM-channel close is still to come); a deleted container ends it,
// with success.
func (s *eventStream) tick() (end bool, err error) {
	data, err := s.stats()
	if err != nil {
		if s.gone() {
			return true, nil
		}
		s.logErr(fmt.Errorf("container %q: stats: %w", s.id, err))
		return false, nil
	}
	return false, s.emit(event{Type: "stats", ID: s.id, Data: data})
}

// emit writes one JSON line; a failed write ends the stream, since
// nothing more can reach the reader.
func (s *eventStream) emit(e event) error {
	if err := s.enc.Encode(e); err != nil {
		return fmt.Errorf("write %s event: %w", e.Type, err)
	}
	return nil
}
