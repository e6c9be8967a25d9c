package hullcmd

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersedArgs returns args with the flags a command was given after
// its positional arguments moved in front of them: `hull update ID
// --memory 1m` means `hull update --memory 1m ID`. runc's command line
// (urfave/cli v1, which reorders arguments; v3 in runc 1.5, which parses
// flags anywhere) accepts flags after the container id, and scripts
// written for runc rely on it; urfave/cli v2 stops at the first positional
// argument and would leave them as ignored arguments.
//
// Commands whose arguments after the id belong to someone else are left
// alone, as in runc: exec (the command line to run) and ps (ps's own
// options), and hull's nspawn and convert, which parse systemd-nspawn's
// flags themselves. A "--" ends the reordering; what follows stays
// positional.
func interspersedArgs(app *cli.App, args []string) []string {
	// help is every command's flag too; its names made once, as the
	// others' are (flagnames.go).
	help := namesOnce(cli.HelpFlag)
	i := skipFlags(withFlag(app.Flags, help), args, 1)
	if i >= len(args) {
		return args
	}
	cmd := findCommand(app.Commands, args[i])
	if cmd == nil || cmd.SkipFlagParsing || !reordersArgs(cmd.Name) {
		return args
	}
	head := i + 1
	cmdFlags := withFlag(cmd.Flags, help)
	first := skipFlags(cmdFlags, args, head) // the first positional argument
	if first >= len(args) || args[first-1] == "--" {
		return args
	}
	var moved, rest []string
	tail := args[first:]
	for j := 0; j < len(tail); j++ {
		arg := tail[j]
		if arg == "--" {
			rest = append(rest, tail[j:]...)
			break
		}
		f, ok := lookupFlag(cmdFlags, arg)
		if !ok {
			rest = append(rest, arg)
			continue
		}
		moved = append(moved, arg)
		if takesValue(f) && !strings.Contains(arg, "=") && j+1 < len(tail) {
			moved = append(moved, tail[j+1])
			j++
		}
	}
	out := append([]string{}, args[:first]...)
	out = append(out, moved...)
	return append(out, rest...)
}

// reordersArgs tells whether a command takes flags after its positional
// arguments: everything after exec's container id is the command to run,
// after ps's the options for ps, as in runc.
func reordersArgs(name string) bool {
	switch name {
	case "exec", "ps", "nspawn", "convert", "nspawn-hook":
		return false
	}
	return true
}

// skipFlags returns the index of the first positional argument at or
// after i, stepping over flags and their values.
func skipFlags(flags []cli.Flag, args []string, i int) int {
	for i < len(args) {
		arg := args[i]
		if arg == "--" {
			return i + 1
		}
		if arg == "-" || !strings.HasPrefix(arg, "-") {
			return i
		}
		i++
		if f, ok := lookupFlag(flags, arg); ok && takesValue(f) && !strings.Contains(arg, "=") {
			i++
		}
	}
	return i
}

// lookupFlag finds the flag arg names ("-f", "--format", "--format=json").
func lookupFlag(flags []cli.Flag, arg string) (cli.Flag, bool) {
	if arg == "-" || !strings.HasPrefix(arg, "-") {
		return nil, false
	}
	name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
	name, _, _ = strings.Cut(name, "=")
	if name == "" {
		return nil, false
	}
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f, true
		}
	}
	return nil, false
}

// withFlag is flags with f first, in a slice of its own.
func withFlag(flags []cli.Flag, f cli.Flag) []cli.Flag {
	return append([]cli.Flag{f}, flags...)
}

// takesValue is false for boolean flags, which never consume the next
// argument.
func takesValue(f cli.Flag) bool {
	v, ok := f.(interface{ TakesValue() bool })
	return !ok || v.TakesValue()
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
