package hullcmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

func TestCheckInterval(t *testing.T) {
	tests := []struct {
		d  time.Duration
		ok bool
	}{
		{0, false},
		{-time.Second, false},
		{-1, false},
		{1, true},
		{200 * time.Millisecond, true},
		{5 * time.Second, true},
	}
	for _, tc := range tests {
		err := checkInterval(tc.d)
		if tc.ok != (err == nil) {
			t.Errorf("checkInterval(%v) = %v, want ok %v", tc.d, err, tc.ok)
			continue
		}
		if err != nil && (!strings.Contains(err.Error(), "--interval") || !strings.Contains(err.Error(), tc.d.String())) {
			t.Errorf("checkInterval(%v) = %q: does not name the flag and its value", tc.d, err)
		}
	}
}

// TestEventsIntervalCommandLine runs the command as parsed: a bad interval
// is refused before any container is looked up, and never panics.
func TestEventsIntervalCommandLine(t *testing.T) {
	for _, args := range [][]string{
		{"events", "--interval", "0", "x"},
		{"events", "--interval", "-1s", "x"},
		{"events", "--stats", "--interval", "0s", "x"},
	} {
		app := &cli.App{
			Name:     "hull",
			Flags:    []cli.Flag{&cli.StringFlag{Name: "root", Value: t.TempDir()}},
			Commands: []*cli.Command{eventsCommand()},
		}
		err := app.Run(append([]string{"hull"}, args...))
		if err == nil || !strings.Contains(err.Error(), "--interval") {
			t.Errorf("hull %v: %v, want the --interval refusal", args, err)
		}
	}
}

// fakeStream is an eventStream whose stats, deletion and log are scripted.
type fakeStream struct {
	out       bytes.Buffer
	statsErrs []error // one per tick, nil: success; past the end, success
	ticks     int
	gone      bool
	logged    []error
}

func (f *fakeStream) stream() *eventStream {
	return &eventStream{
		id:  "x",
		enc: json.NewEncoder(&f.out),
		stats: func() (any, error) {
			var err error
			if f.ticks < len(f.statsErrs) {
				err = f.statsErrs[f.ticks]
			}
			f.ticks++
			if err != nil {
				return nil, err
			}
			return map[string]int{"tick": f.ticks}, nil
		},
		gone:   func() bool { return f.gone },
		logErr: func(err error) { f.logged = append(f.logged, err) },
	}
}

// types lists the "type" of each JSON line printed.
func (f *fakeStream) types(t *testing.T) []string {
	t.Helper()
	var types []string
	dec := json.NewDecoder(&f.out)
	for dec.More() {
		var e event
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("output is not JSON lines: %v", err)
		}
		if e.ID != "x" {
			t.Errorf("event %+v: id %q, want x", e, e.ID)
		}
		types = append(types, e.Type)
	}
	return types
}

// drive runs the stream, feeding it steps ("oom", "tick", "close": the
// OOM channel closes) one at a time: the channels are unbuffered, so each
// step is taken before the next is offered. It returns run's error.
func drive(t *testing.T, s *eventStream, steps ...string) error {
	t.Helper()
	ooms := make(chan struct{})
	ticks := make(chan time.Time)
	res := make(chan error, 1)
	go func() { res <- s.run(ooms, ticks) }()
	for _, step := range steps {
		var err error
		switch step {
		case "oom":
			err = offer(ooms, struct{}{}, res)
		case "tick":
			err = offer(ticks, time.Now(), res)
		case "close":
			close(ooms)
		}
		if err != nil {
			return err
		}
	}
	select {
	case err := <-res:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end")
		return nil
	}
}

var errEnded = errors.New("the stream ended before the step")

// offer sends v on ch unless the stream ends first.
func offer[T any](ch chan<- T, v T, res chan error) error {
	select {
	case ch <- v:
		return nil
	case err := <-res:
		res <- err
		return errEnded
	}
}

func TestEventStream(t *testing.T) {
	statsFail := errors.New("no such file")
	tests := []struct {
		name      string
		statsErrs []error
		gone      bool
		steps     []string
		want      []string // event types printed
		logged    int
		err       error
	}{
		{"stats only on ticks", nil, false, []string{"oom", "tick", "oom", "tick", "close"}, []string{"oom", "stats", "oom", "stats"}, 0, nil},
		{"nothing before the first tick", nil, false, []string{"close"}, nil, 0, nil},
		{"stats error logged, stream goes on", []error{statsFail, statsFail}, false, []string{"tick", "tick", "tick", "close"}, []string{"stats"}, 2, nil},
		{"deleted container ends it", []error{statsFail}, true, []string{"tick"}, nil, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeStream{statsErrs: tc.statsErrs, gone: tc.gone}
			err := drive(t, f.stream(), tc.steps...)
			if !errors.Is(err, tc.err) {
				t.Fatalf("run: %v, want %v", err, tc.err)
			}
			if got := f.types(t); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("printed %v, want %v", got, tc.want)
			}
			if len(f.logged) != tc.logged {
				t.Errorf("logged %v, want %d errors", f.logged, tc.logged)
			}
		})
	}
}

// failWriter is a stdout whose reader went away.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestEventStreamWriteFails(t *testing.T) {
	f := &fakeStream{}
	s := f.stream()
	s.enc = json.NewEncoder(failWriter{})
	if err := drive(t, s, "tick"); err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Fatalf("run: %v, want the write error", err)
	}
}
