package nspawnconv

import (
	"fmt"
	"path"
	"strings"
)

// Kind says how hull realises a key.
type Kind string

const (
	// KindMapped: expressed by config.json fields alone.
	KindMapped Kind = "mapped"
	// KindHooked: needs a host pre-step, an OCI hook or a hull annotation.
	KindHooked Kind = "hooked"
	// KindRefused: conversion fails with an error naming the key.
	KindRefused Kind = "refused"
)

type argMode int

const (
	argNone argMode = iota
	argRequired
	argOptional
)

// parseCtx carries what differs between the file and the command line.
type parseCtx struct {
	cli       bool
	lookupEnv func(string) (string, bool)
	// ignored, set by a file key's parser, says why the assignment was
	// ignored with a warning instead of applied (nspawn's log_syntax + return 0).
	ignored string
}

// KeyDef is one row of the key table: a .nspawn key and/or its flags.
type KeyDef struct {
	Section    string   // Exec, Files, Network; "" = command line only
	Key        string   // file key; "" = command line only
	Flags      []string // command-line spellings
	Group      Group
	Privileged bool // ignored in untrusted files
	Kind       Kind
	What       string // what hull does with it

	arg   argMode
	noArg string // value used for a flag given without argument
	parse func(s *Settings, v string, c *parseCtx) error
}

func boolField(get func(*Settings) *bool) func(*Settings, string, *parseCtx) error {
	return func(s *Settings, v string, _ *parseCtx) error {
		if v == "" {
			*get(s) = false
			return nil
		}
		b, err := ParseBoolean(v)
		*get(s) = b
		return err
	}
}

// startModeField parses Boot= or ProcessTwo= (own), whose other is the
// competing start mode. In a file nspawn 252 (config_parse_boot/pid2) keeps
// the first start mode it reads: "yes" while the other is set, or "no" while
// this one is set, is a conflict it warns about and ignores. On the command
// line -b with -a is an error (checkRefused), as in nspawn's parse_argv.
func startModeField(get func(*Settings) (own, other *bool)) func(*Settings, string, *parseCtx) error {
	return func(s *Settings, v string, c *parseCtx) error {
		own, other := get(s)
		b := false
		if v != "" {
			var err error
			if b, err = ParseBoolean(v); err != nil {
				return err
			}
		}
		if c != nil && !c.cli && ((b && *other) || (!b && *own)) {
			c.ignored = "conflicting Boot= or ProcessTwo= setting, ignoring (as nspawn)"
			return nil
		}
		*own = b
		return nil
	}
}

func enumField(get func(*Settings) *string, allowed ...string) func(*Settings, string, *parseCtx) error {
	return func(s *Settings, v string, _ *parseCtx) error {
		if v == "" {
			*get(s) = ""
			return nil
		}
		if err := oneOf(v, allowed...); err != nil {
			return err
		}
		*get(s) = v
		return nil
	}
}

func absPathField(get func(*Settings) *string) func(*Settings, string, *parseCtx) error {
	return func(s *Settings, v string, _ *parseCtx) error {
		if v != "" && !path.IsAbs(v) {
			return fmt.Errorf("path %q is not absolute", v)
		}
		*get(s) = v
		return nil
	}
}

func stringField(get func(*Settings) *string) func(*Settings, string, *parseCtx) error {
	return func(s *Settings, v string, _ *parseCtx) error { *get(s) = v; return nil }
}

// listField appends words (file: shell words, CLI: one value per flag,
// or comma-split when cliComma); an empty value resets the list.
func listField(get func(*Settings) *[]string, cliComma bool, check func(string) error) func(*Settings, string, *parseCtx) error {
	return func(s *Settings, v string, c *parseCtx) error {
		if v == "" {
			*get(s) = nil
			return nil
		}
		var items []string
		switch {
		case c.cli && cliComma:
			items = strings.Split(v, ",")
		case c.cli:
			items = []string{v}
		default:
			w, err := SplitWords(v)
			if err != nil {
				return err
			}
			items = w
		}
		for _, it := range items {
			if check != nil {
				if err := check(it); err != nil {
					return err
				}
			}
		}
		*get(s) = append(*get(s), items...)
		return nil
	}
}

func capField(get func(*Settings) *[]string) func(*Settings, string, *parseCtx) error {
	return func(s *Settings, v string, c *parseCtx) error {
		if v == "" {
			*get(s) = nil
			return nil
		}
		caps, err := parseCapList(v, c.cli)
		if err != nil {
			return err
		}
		*get(s) = append(*get(s), caps...)
		return nil
	}
}

func checkIfName(n string) error {
	if n == "" || len(n) > 15 || strings.ContainsAny(n, "/: \t") {
		return fmt.Errorf("invalid network interface name %q", n)
	}
	return nil
}

func checkEnv(e string) error {
	name, _, ok := strings.Cut(e, "=")
	if !ok || name == "" || strings.ContainsAny(name, " \t\n") {
		return fmt.Errorf("invalid environment assignment %q", e)
	}
	return nil
}
