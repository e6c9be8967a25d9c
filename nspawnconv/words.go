package nspawnconv

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParseBoolean reads a boolean the way systemd's parse_boolean() does.
func ParseBoolean(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "yes", "y", "true", "t", "on":
		return true, nil
	case "0", "no", "n", "false", "f", "off":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q", v)
}

// SplitWords splits a value into words the way systemd's
// extract_first_word(EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE) does: words are
// separated by whitespace, "…" and '…' group, C escapes are decoded outside
// quotes and inside double quotes, single quotes are literal.
func SplitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			i++
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated single quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+end])
			inWord = true
			i += end + 2
		case c == '"':
			n, err := unquoteDouble(s[i+1:], &cur)
			if err != nil {
				return nil, fmt.Errorf("%w in %q", err, s)
			}
			inWord = true
			i += n + 1
		case c == '\\':
			n, err := cUnescapeOne(s[i+1:], &cur)
			if err != nil {
				return nil, fmt.Errorf("%w in %q", err, s)
			}
			inWord = true
			i += n + 1
		default:
			cur.WriteByte(c)
			inWord = true
			i++
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// unquoteDouble consumes a double-quoted run (after the opening quote) and
// returns how many bytes it used, including the closing quote.
func unquoteDouble(s string, out *strings.Builder) (int, error) {
	for i := 0; i < len(s); {
		switch s[i] {
		case '"':
			return i + 1, nil
		case '\\':
			n, err := cUnescapeOne(s[i+1:], out)
			if err != nil {
				return 0, err
			}
			i += n + 1
		default:
			out.WriteByte(s[i])
			i++
		}
	}
	return 0, fmt.Errorf("unterminated double quote")
}

var simpleEscapes = map[byte]byte{
	'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t',
	'v': '\v', ' ': ' ', '\\': '\\', '"': '"', '\'': '\'', 's': ' ', '?': '?',
}

// cUnescapeOne decodes one C escape (s starts after the backslash) and
// returns the number of bytes consumed.
func cUnescapeOne(s string, out *strings.Builder) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("trailing backslash")
	}
	if r, ok := simpleEscapes[s[0]]; ok {
		out.WriteByte(r)
		return 1, nil
	}
	hexRune := func(digits int) (int, error) {
		if len(s) < 1+digits {
			return 0, fmt.Errorf("short \\%c escape", s[0])
		}
		v, err := strconv.ParseUint(s[1:1+digits], 16, 32)
		if err != nil || (digits > 2 && !utf8.ValidRune(rune(v))) {
			return 0, fmt.Errorf("invalid \\%c escape %q", s[0], s[:1+digits])
		}
		if digits == 2 {
			out.WriteByte(byte(v))
		} else {
			out.WriteRune(rune(v))
		}
		return 1 + digits, nil
	}
	switch {
	case s[0] == 'x':
		return hexRune(2)
	case s[0] == 'u':
		return hexRune(4)
	case s[0] == 'U':
		return hexRune(8)
	case s[0] >= '0' && s[0] <= '7':
		if len(s) < 3 {
			return 0, fmt.Errorf("short octal escape")
		}
		v, err := strconv.ParseUint(s[:3], 8, 8)
		if err != nil || v == 0 {
			return 0, fmt.Errorf("invalid octal escape \\%s", s[:3])
		}
		out.WriteByte(byte(v))
		return 3, nil
	}
	return 0, fmt.Errorf("invalid escape \\%c", s[0])
}

// extractColonWord reads the first ':'-separated word of s the way
// systemd's extract_first_word(":", EXTRACT_DONT_COALESCE_SEPARATORS) does,
// as nspawn's Bind=, TemporaryFileSystem= and Overlay= parsers call it: a
// backslash makes the next byte literal ("\:" is a colon inside the word,
// "\\" a backslash), a trailing backslash is an error. rest is the raw text
// after the separator; more reports whether there was one.
func extractColonWord(s string) (word, rest string, more bool, err error) {
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 >= len(s) {
				return "", "", false, fmt.Errorf("trailing backslash in %q", s)
			}
			i++
			cur.WriteByte(s[i])
		case ':':
			return cur.String(), s[i+1:], true, nil
		default:
			cur.WriteByte(s[i])
		}
	}
	return cur.String(), "", false, nil
}

// splitColon splits s into every ':'-separated word with extractColonWord's
// escapes (nspawn's strv_split_full(":", EXTRACT_DONT_COALESCE_SEPARATORS)):
// empty words are kept, so "a::b" has three.
func splitColon(s string) ([]string, error) {
	var parts []string
	for {
		w, rest, more, err := extractColonWord(s)
		if err != nil {
			return nil, err
		}
		parts = append(parts, w)
		if !more {
			return parts, nil
		}
		s = rest
	}
}

// overlayEscape escapes a path for overlayfs's lowerdir=/upperdir=/workdir=
// as nspawn's shell_escape(path, ",:") does: a backslash before every
// backslash, ',' and ':', which the kernel's option parser undoes.
func overlayEscape(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if c := p[i]; c == '\\' || c == ',' || c == ':' {
			b.WriteByte('\\')
		}
		b.WriteByte(p[i])
	}
	return b.String()
}
