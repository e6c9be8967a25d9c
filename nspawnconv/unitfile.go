package nspawnconv

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Assignment is one "Key=Value" line of a unit file, after continuation
// lines were joined.
type Assignment struct {
	File    string
	Line    int // line the assignment starts on
	Section string
	Key     string
	Value   string
}

func (a Assignment) pos() string { return fmt.Sprintf("%s:%d", a.File, a.Line) }

// ReadUnitFile tokenises systemd unit-file syntax (systemd.syntax(7)):
// [Section] headers, Key=Value, comments starting with # or ; at the start of
// a line, and a trailing backslash joining the next line with a space.
// Malformed lines produce warnings, as systemd logs and skips them.
func ReadUnitFile(r io.Reader, name string) ([]Assignment, []string, error) {
	var out []Assignment
	var warnings []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	section := ""
	lineNo := 0
	var cont strings.Builder
	contStart := 0
	for sc.Scan() {
		lineNo++
		raw := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimSpace(raw)
		if cont.Len() > 0 || contStart > 0 {
			// Comment lines inside a continuation are dropped, like systemd.
			if strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, ";") {
				continue
			}
		} else if trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';' {
			continue
		}
		if strings.HasSuffix(raw, "\\") && !strings.HasSuffix(raw, "\\\\") {
			if contStart == 0 {
				contStart = lineNo
			}
			cont.WriteString(raw[:len(raw)-1])
			cont.WriteByte(' ')
			continue
		}
		start := lineNo
		if contStart > 0 {
			cont.WriteString(raw)
			raw, start = cont.String(), contStart
			cont.Reset()
			contStart = 0
		}
		a, sec, warn := parseUnitLine(raw, name, start, section)
		section = sec
		if warn != "" {
			warnings = append(warnings, warn)
		}
		if a != nil {
			out = append(out, *a)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, warnings, fmt.Errorf("read %s: %w", name, err)
	}
	if contStart > 0 {
		a, _, warn := parseUnitLine(cont.String(), name, contStart, section)
		if warn != "" {
			warnings = append(warnings, warn)
		}
		if a != nil {
			out = append(out, *a)
		}
	}
	return out, warnings, nil
}

func parseUnitLine(raw, file string, line int, section string) (*Assignment, string, string) {
	l := strings.TrimSpace(raw)
	if l == "" {
		return nil, section, ""
	}
	if l[0] == '[' {
		if !strings.HasSuffix(l, "]") || len(l) < 3 {
			return nil, "", fmt.Sprintf("%s:%d: invalid section header %q, ignoring following assignments", file, line, l)
		}
		return nil, l[1 : len(l)-1], ""
	}
	eq := strings.IndexByte(l, '=')
	if eq < 0 {
		return nil, section, fmt.Sprintf("%s:%d: missing '=', ignoring line %q", file, line, l)
	}
	if section == "" {
		return nil, section, fmt.Sprintf("%s:%d: assignment outside of section, ignoring %q", file, line, l)
	}
	key := strings.TrimSpace(l[:eq])
	if key == "" {
		return nil, section, fmt.Sprintf("%s:%d: empty key name, ignoring line %q", file, line, l)
	}
	return &Assignment{File: file, Line: line, Section: section, Key: key, Value: strings.TrimSpace(l[eq+1:])}, section, ""
}
