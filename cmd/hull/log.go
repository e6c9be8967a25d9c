package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"
)

// logError reports a failed command on stderr and, with --log, in the log
// file; in json format as {"level":"error","msg":...,"time":...}, which is
// where containerd and conmon look for a runtime's error.
func logError(app *cli.App, err error) {
	fmt.Fprintln(os.Stderr, "hull:", err)
	path, format := globalFromArgs(os.Args, "--log"), globalFromArgs(os.Args, "--log-format")
	if path == "" {
		return
	}
	f, ferr := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if ferr != nil {
		return
	}
	defer f.Close()
	writeLog(f, format, "error", err.Error())
}

func writeLog(w io.Writer, format, level, msg string) {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if format == "json" {
		line, _ := json.Marshal(map[string]string{"level": level, "msg": msg, "time": now})
		fmt.Fprintf(w, "%s\n", line)
		return
	}
	fmt.Fprintf(w, "time=%q level=%s msg=%q\n", now, level, msg)
}

// globalFromArgs finds a global flag's value without the parsed context,
// which is gone once app.Run returned an error.
func globalFromArgs(args []string, name string) string {
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == name || a == "-"+name:
			if i+1 < len(args) {
				return args[i+1]
			}
		case len(a) > len(name)+1 && (a[:len(name)+1] == name+"=" || (a[0] == '-' && a[1:min(len(a), len(name)+2)] == name+"=")):
			return a[len(name)+1+boolToInt(a[0] == '-' && a[1] == '-' && name[1] != '-'):]
		case len(a) > 0 && a[0] != '-':
			return "" // the command name: global flags end here
		}
	}
	return ""
}

func boolToInt(b bool) int {
	if b {
		return 1
	}
	return 0
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
