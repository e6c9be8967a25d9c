package hullcmd

import (
	"io"
	"time"
)

// escapeByte is Ctrl-], nspawn's escape: pressed three times within a
// second on an interactive console, it ends the machine.
const (
	escapeByte   = 0x1d
	escapeCount  = 3
	escapeWindow = time.Second
)

// escapeReader passes input through unchanged and calls onEscape once when
// it has seen escapeCount escape bytes within escapeWindow of the first.
type escapeReader struct {
	r        io.Reader
	now      func() time.Time
	onEscape func()
	first    time.Time
	count    int
	fired    bool
}

func (e *escapeReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	for _, b := range p[:n] {
		e.see(b)
	}
	return n, err
}

func (e *escapeReader) see(b byte) {
	if b != escapeByte {
		e.count = 0
		return
	}
	t := e.now()
	if e.count == 0 || t.Sub(e.first) > escapeWindow {
		e.first, e.count = t, 0
	}
	e.count++
	if e.count >= escapeCount && !e.fired {
		e.fired = true
		e.onEscape()
	}
}
