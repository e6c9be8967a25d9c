package nspawnconv

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// ParseFile reads a .nspawn file from disk; see ParseSettings.
func ParseFile(path string) (*Settings, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open settings file: %w", err)
	}
	defer f.Close()
	return ParseSettings(f, path)
}

// ParseSettings reads a .nspawn file. Unknown sections and keys produce
// warnings, as systemd logs and ignores them; invalid values are errors
// naming file:line, key and value.
func ParseSettings(r io.Reader, name string) (*Settings, []string, error) {
	assigns, warnings, err := ReadUnitFile(r, name)
	if err != nil {
		return nil, warnings, err
	}
	s := &Settings{}
	ctx := &parseCtx{}
	warnedSection := map[string]bool{}
	for _, a := range assigns {
		if a.Section != "Exec" && a.Section != "Files" && a.Section != "Network" {
			if !strings.HasPrefix(a.Section, "X-") && !warnedSection[a.Section] {
				warnings = append(warnings, fmt.Sprintf("%s: unknown section [%s], ignoring", a.pos(), a.Section))
			}
			warnedSection[a.Section] = true
			continue
		}
		def := lookupKey(a.Section, a.Key)
		if def == nil {
			if !strings.HasPrefix(a.Key, "X-") {
				warnings = append(warnings, fmt.Sprintf("%s: unknown key %s= in section [%s], ignoring", a.pos(), a.Key, a.Section))
			}
			continue
		}
		if err := def.parse(s, a.Value, ctx); err != nil {
			return nil, warnings, fmt.Errorf("%s: [%s] %s=%s: %w", a.pos(), a.Section, a.Key, a.Value, err)
		}
		if ctx.ignored != "" {
			warnings = append(warnings, fmt.Sprintf("%s: %s=%s: %s", a.pos(), a.Key, a.Value, ctx.ignored))
			ctx.ignored = ""
			continue
		}
		s.mark(def.Group)
		s.markKey(def.Group, a.Key)
		s.noteOrigin(a.Key, a.pos(), a.Value)
	}
	return s, warnings, nil
}

func lookupKey(section, key string) *KeyDef {
	keys := Keys()
	for i := range keys {
		if keys[i].Section == section && keys[i].Key == key {
			return &keys[i]
		}
	}
	return nil
}

func lookupFlag(flag string) *KeyDef {
	keys := Keys()
	for i := range keys {
		for _, f := range keys[i].Flags {
			if f == flag {
				return &keys[i]
			}
		}
	}
	return nil
}

// ParseCommandLine reads systemd-nspawn's arguments (without argv[0]).
// Options stop at "--" or at the first non-option; the rest is the command
// (or init arguments with -b). lookupEnv resolves "-E NAME" (may be nil).
func ParseCommandLine(args []string, lookupEnv func(string) (string, bool)) (*Settings, error) {
	s := &Settings{}
	ctx := &parseCtx{cli: true, lookupEnv: lookupEnv}
	i := 0
	for i < len(args) {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		var err error
		if strings.HasPrefix(a, "--") {
			i, err = parseLong(s, ctx, args, i)
		} else {
			i, err = parseShort(s, ctx, args, i)
		}
		if err != nil {
			return nil, err
		}
	}
	if rest := args[i:]; len(rest) > 0 {
		s.Parameters = append([]string(nil), rest...)
		s.mark(GroupParameters)
	}
	return s, nil
}

func parseLong(s *Settings, ctx *parseCtx, args []string, i int) (int, error) {
	name, val, hasVal := strings.Cut(args[i], "=")
	def := lookupFlag(name)
	if def == nil {
		return 0, fmt.Errorf("unknown option %s", name)
	}
	switch def.arg {
	case argNone:
		if hasVal {
			return 0, fmt.Errorf("option %s takes no argument", name)
		}
		val = def.noArg
	case argOptional:
		if !hasVal {
			val = def.noArg
		}
	case argRequired:
		if !hasVal {
			if i+1 >= len(args) {
				return 0, fmt.Errorf("option %s requires an argument", name)
			}
			i++
			val = args[i]
		}
	}
	return i + 1, applyFlag(s, ctx, def, name, val)
}

// parseShort handles bundled short options ("-bU") and attached or
// separate arguments ("-Dpath", "-D path").
func parseShort(s *Settings, ctx *parseCtx, args []string, i int) (int, error) {
	a := args[i]
	for j := 1; j < len(a); j++ {
		name := "-" + string(a[j])
		def := lookupFlag(name)
		if def == nil {
			return 0, fmt.Errorf("unknown option %s", name)
		}
		if def.arg == argNone {
			if err := applyFlag(s, ctx, def, name, def.noArg); err != nil {
				return 0, err
			}
			continue
		}
		val := a[j+1:]
		if val == "" {
			if i+1 >= len(args) {
				return 0, fmt.Errorf("option %s requires an argument", name)
			}
			i++
			val = args[i]
		}
		return i + 1, applyFlag(s, ctx, def, name, val)
	}
	return i + 1, nil
}

func applyFlag(s *Settings, ctx *parseCtx, def *KeyDef, name, val string) error {
	if err := def.parse(s, val, ctx); err != nil {
		return fmt.Errorf("option %s=%s: %w", name, val, err)
	}
	s.mark(def.Group)
	key := def.Key
	if key == "" {
		key = name
	}
	s.noteOrigin(key, "", val)
	return nil
}
