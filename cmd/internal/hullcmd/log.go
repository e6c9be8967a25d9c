package hullcmd

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"
)

// logTarget is where --log and --log-format point, known once the command
// line is parsed.
type logTarget struct{ path, format string }

// error reports a failed command on stderr and, with --log, in the log
// file; in json format as {"level":"error","msg":...,"time":...}, which is
// where containerd and conmon look for a runtime's error.
func (l *logTarget) error(err error) {
	fmt.Fprintln(os.Stderr, "hull:", err)
	if l.path == "" {
		return
	}
	f, ferr := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if ferr != nil {
		return
	}
	defer f.Close()
	writeLog(f, l.format, "error", err.Error())
}

// writeLog writes one line as runc's logrus does: text
// `time="2006-01-02T15:04:05Z" level=error msg="..."` or JSON
// {"level":...,"msg":...,"time":...}.
func writeLog(w io.Writer, format, level, msg string) {
	now := time.Now().UTC().Format(time.RFC3339)
	if format == "json" {
		line, _ := json.Marshal(map[string]string{"level": level, "msg": msg, "time": now})
		fmt.Fprintf(w, "%s\n", line)
		return
	}
	fmt.Fprintf(w, "time=%q level=%s msg=%q\n", now, level, msg)
}

// logWarnings writes warnings to the --log file; on stderr only with
// --debug, because engines read hull's stderr as an error when it is not
// empty.
func logWarnings(c *cli.Context, warnings []string) {
	if len(warnings) == 0 {
		return
	}
	format := c.String("log-format")
	if path := c.String("log"); path != "" {
		if f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			for _, w := range warnings {
				writeLog(f, format, "warning", w)
			}
			f.Close()
		}
	}
	if c.Bool("debug") {
		for _, w := range warnings {
			writeLog(os.Stderr, format, "warning", w)
		}
	}
}

// debugLog writes a debug line with --debug: to the --log file when there
// is one, else to stderr, as runc's --debug does.
func debugLog(c *cli.Context, format string, args ...any) {
	if !c.Bool("debug") {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if path := c.String("log"); path != "" {
		if f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			writeLog(f, c.String("log-format"), "debug", msg)
			f.Close()
		}
		return
	}
	writeLog(os.Stderr, c.String("log-format"), "debug", msg)
}
