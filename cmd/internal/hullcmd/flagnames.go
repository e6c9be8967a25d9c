package hullcmd

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// urfave/cli computes a flag's names anew each time it asks for them, by
// running a regular expression over each name (FlagNames), and it asks
// for every flag's names whenever it looks one flag up: IsSet does, and
// runFlagActions calls IsSet for every flag of the command, so a `hull
// run` ran that expression about 500 times, 1% of its CPU and a third of
// the bytes it allocated. The flags below answer Names() with a slice
// made once (flagNames); every other method is the wrapped flag's. They
// are pointers, so that urfave/cli may compare flags (hasFlag) as it does
// its own. The help and version flags urfave/cli adds itself stay as they
// are.

type (
	boolNames struct {
		*cli.BoolFlag
		names []string
	}
	stringNames struct {
		*cli.StringFlag
		names []string
	}
	intNames struct {
		*cli.IntFlag
		names []string
	}
	int64Names struct {
		*cli.Int64Flag
		names []string
	}
	uint64Names struct {
		*cli.Uint64Flag
		names []string
	}
	stringSliceNames struct {
		*cli.StringSliceFlag
		names []string
	}
	durationNames struct {
		*cli.DurationFlag
		names []string
	}
)

func (f *boolNames) Names() []string        { return f.names }
func (f *stringNames) Names() []string      { return f.names }
func (f *intNames) Names() []string         { return f.names }
func (f *int64Names) Names() []string       { return f.names }
func (f *uint64Names) Names() []string      { return f.names }
func (f *stringSliceNames) Names() []string { return f.names }
func (f *durationNames) Names() []string    { return f.names }

// namesOnce returns f as a flag whose names are computed once; a flag of
// another type, or already wrapped, is returned as it is.
func namesOnce(f cli.Flag) cli.Flag {
	switch f := f.(type) {
	case *cli.BoolFlag:
		return &boolNames{f, flagNames(f.Name, f.Aliases)}
	case *cli.StringFlag:
		return &stringNames{f, flagNames(f.Name, f.Aliases)}
	case *cli.IntFlag:
		return &intNames{f, flagNames(f.Name, f.Aliases)}
	case *cli.Int64Flag:
		return &int64Names{f, flagNames(f.Name, f.Aliases)}
	case *cli.Uint64Flag:
		return &uint64Names{f, flagNames(f.Name, f.Aliases)}
	case *cli.StringSliceFlag:
		return &stringSliceNames{f, flagNames(f.Name, f.Aliases)}
	case *cli.DurationFlag:
		return &durationNames{f, flagNames(f.Name, f.Aliases)}
	}
	return f
}

// flagsWithNamesOnce wraps every flag of flags (namesOnce), in place.
func flagsWithNamesOnce(flags []cli.Flag) {
	for i, f := range flags {
		flags[i] = namesOnce(f)
	}
}

// commandsWithNamesOnce does it for every flag of cmds and their
// subcommands.
func commandsWithNamesOnce(cmds []*cli.Command) {
	for _, c := range cmds {
		flagsWithNamesOnce(c.Flags)
		commandsWithNamesOnce(c.Subcommands)
	}
}

// flagNames is urfave/cli's FlagNames without running its expression
// where it would change nothing: it strips what follows a comma or a
// space, and hull's names have neither.
func flagNames(name string, aliases []string) []string {
	names := append([]string{name}, aliases...)
	for _, n := range names {
		if strings.ContainsAny(n, ", ") {
			return cli.FlagNames(name, aliases)
		}
	}
	return names
}
