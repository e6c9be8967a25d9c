package hullcmd

import (
	"fmt"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// TestNamesOnce: a wrapped flag of each kind hull uses has the same names,
// help line and optional interfaces as the flag it wraps, and answers
// Names() without allocating, where the flag itself runs a regular
// expression (the control).
func TestNamesOnce(t *testing.T) {
	for _, f := range []cli.Flag{
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach"},
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: ".", Usage: "bundle directory", Hidden: true},
		&cli.IntFlag{Name: "preserve-fds", Usage: "fds"},
		&cli.Int64Flag{Name: "cpu-quota", Usage: "quota"},
		&cli.Uint64Flag{Name: "memory", Aliases: []string{"m"}, Usage: "limit", Required: true},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "variables", Category: "process"},
		&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "interval"},
	} {
		w := namesOnce(f)
		t.Run(f.Names()[0], func(t *testing.T) {
			if w == f {
				t.Fatal("not wrapped")
			}
			if got, want := fmt.Sprint(w.Names()), fmt.Sprint(f.Names()); got != want {
				t.Errorf("names %s, want %s", got, want)
			}
			if got, want := cli.FlagStringer(w), cli.FlagStringer(f); got != want {
				t.Errorf("help line %q, want %q", got, want)
			}
			for name, has := range map[string]func(cli.Flag) bool{
				"DocGenerationFlag": func(f cli.Flag) bool { _, ok := f.(cli.DocGenerationFlag); return ok },
				"VisibleFlag":       func(f cli.Flag) bool { v, ok := f.(cli.VisibleFlag); return ok && v.IsVisible() },
				"RequiredFlag":      func(f cli.Flag) bool { r, ok := f.(cli.RequiredFlag); return ok && r.IsRequired() },
				"CategorizableFlag": func(f cli.Flag) bool { c, ok := f.(cli.CategorizableFlag); return ok && c.GetCategory() != "" },
				"ActionableFlag":    func(f cli.Flag) bool { _, ok := f.(cli.ActionableFlag); return ok },
			} {
				if has(w) != has(f) {
					t.Errorf("%s: wrapped %v, flag %v", name, has(w), has(f))
				}
			}
			if takesValue(w) != takesValue(f) {
				t.Errorf("takesValue: wrapped %v, flag %v", takesValue(w), takesValue(f))
			}
			if n := testing.AllocsPerRun(20, func() { w.Names() }); n != 0 {
				t.Errorf("Names() of the wrapped flag: %v allocations", n)
			}
			if n := testing.AllocsPerRun(20, func() { f.Names() }); n == 0 {
				t.Errorf("control: Names() of the flag itself allocates nothing; the wrapper saves nothing")
			}
			if again := namesOnce(w); fmt.Sprintf("%T", again) != fmt.Sprintf("%T", w) {
				t.Errorf("wrapping twice gave a %T", again)
			}
		})
	}
}

// TestAppFlagsNamedOnce: every flag of the app hull builds, global and of
// every command, is wrapped, and a boolean flag still takes no value.
func TestAppFlagsNamedOnce(t *testing.T) {
	var log logTarget
	app := newApp(&log, Build{}, RuntimeCommands(), Handover{Program: "hull-nspawn", Commands: NspawnSide()})
	check := func(where string, flags []cli.Flag) {
		for _, f := range flags {
			switch f.(type) {
			case *cli.BoolFlag, *cli.StringFlag, *cli.IntFlag, *cli.Int64Flag, *cli.Uint64Flag,
				*cli.StringSliceFlag, *cli.DurationFlag:
				t.Errorf("%s: flag %q not wrapped", where, f.Names()[0])
			}
		}
	}
	check("hull", app.Flags)
	for _, c := range app.Commands {
		check(c.Name, c.Flags)
	}
	if f, ok := lookupFlag(findCommand(app.Commands, "run").Flags, "--detach"); !ok || takesValue(f) {
		t.Errorf("run --detach: found %v, takes a value %v", ok, ok && takesValue(f))
	}
}

// TestFlagNames: names without a comma or a space are taken as they are,
// and one written in urfave/cli v1's style ("name, n") is cut as
// urfave/cli cuts it.
func TestFlagNames(t *testing.T) {
	for _, tc := range []struct {
		name    string
		aliases []string
	}{
		{"detach", []string{"d"}},
		{"root", nil},
		{"log-format", []string{"lf", "l"}},
		{"bundle, b", nil},
		{"env", []string{"e x"}},
	} {
		if got, want := fmt.Sprint(flagNames(tc.name, tc.aliases)), fmt.Sprint(cli.FlagNames(tc.name, tc.aliases)); got != want {
			t.Errorf("flagNames(%q, %q) = %s, want %s", tc.name, tc.aliases, got, want)
		}
	}
}
