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
	lr := lineReader{r: bufio.NewReader(r), name: name}
	section := ""
	lineNo := 0
	var cont strings.Builder
	contStart := 0
	for {
		text, ok, err := lr.next()
		if err != nil {
			return nil, warnings, err
		}
		if !ok {
			break
		}
		lineNo++
		raw := strings.TrimRight(text, "\r")
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
			if cont.Len() > maxLineLen {
				return nil, warnings, tooLong(name, contStart, cont.String())
			}
			continue
		}
		start := lineNo
		if contStart > 0 {
			cont.WriteString(raw)
			if cont.Len() > maxLineLen {
				return nil, warnings, tooLong(name, contStart, cont.String())
			}
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

// maxLineLen is systemd's LONG_LINE_MAX: its parser takes lines, and
// continued lines joined, up to 1 MiB.
const maxLineLen = 1 << 20

// lineReader yields a file's lines (without "\n") of up to maxLineLen bytes.
type lineReader struct {
	r    *bufio.Reader
	name string
	no   int
}

func (l *lineReader) next() (string, bool, error) {
	var line []byte
	for {
		chunk, err := l.r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxLineLen+1 || len(line) == maxLineLen+1 && line[maxLineLen] != '\n' {
			return "", false, tooLong(l.name, l.no+1, string(line[:256]))
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(line) == 0:
			return "", false, nil
		case err != nil && err != io.EOF:
			return "", false, fmt.Errorf("read %s: line %d: %w", l.name, l.no+1, err)
		}
		l.no++
		return strings.TrimSuffix(string(line), "\n"), true, nil
	}
}

// tooLong names the file, line and key of a line over systemd's limit.
func tooLong(file string, line int, start string) error {
	key, _, found := strings.Cut(strings.TrimSpace(start), "=")
	if !found || len(key) > 64 {
		return fmt.Errorf("%s:%d: line longer than 1 MiB (systemd's limit), no key in its first bytes", file, line)
	}
	return fmt.Errorf("%s:%d: %s=: line longer than 1 MiB (systemd's limit)", file, line, strings.TrimSpace(key))
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
