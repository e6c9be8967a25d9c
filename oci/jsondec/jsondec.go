// Package jsondec decodes JSON into Go values as encoding/json does,
// without its reflection: encoding/json builds a decoder and an encoder
// for every type a value reaches the first time a process decodes one,
// which for a specs.Spec is 2-3 ms of CPU and ~70 first-touched heap
// pages. fastjson parses; mapping functions (generated for the specs
// types, see oci/internal/specdecgen) call the helpers here for each
// key, which follow encoding/json's rules: keys matched exactly, then
// case-insensitively, in field order; unknown keys skipped; a duplicate
// key decoded again into the same value; null leaves scalars and structs
// alone and clears pointers, slices and maps; integers parsed by strconv
// as encoding/json parses them, overflow and fractions refused. A helper
// returns false for anything it does not reproduce (any type mismatch
// among them): the caller then decodes with encoding/json, whose verdict
// and error are the ones given.
package jsondec

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// Parse parses data for the helpers; ok is false where encoding/json must
// decide: invalid JSON (json.Valid is encoding/json's own scanner, no
// reflection; fastjson alone accepts more, NaN and unknown escapes),
// invalid UTF-8 or an escaped surrogate (encoding/json writes U+FFFD where
// fastjson keeps bytes), nesting deeper than fastjson's limit.
func Parse(data []byte) (*fastjson.Value, bool) {
	if !utf8.Valid(data) || hasSurrogateEscape(data) || !json.Valid(data) {
		return nil, false
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(data)
	return v, err == nil
}

// hasSurrogateEscape reports a \uD800-\uDFFF escape (or what looks like
// one after an escaped backslash): encoding/json turns an unpaired one
// into U+FFFD, fastjson keeps its text.
func hasSurrogateEscape(data []byte) bool {
	for {
		i := bytes.Index(data, []byte(`\u`))
		if i < 0 || i+2 >= len(data) {
			return false
		}
		if c := data[i+2]; c == 'd' || c == 'D' {
			return true
		}
		data = data[i+2:]
	}
}

// FoldEq is encoding/json's case-insensitive key match (its foldName is
// defined to agree with bytes.EqualFold).
func FoldEq(k []byte, name string) bool {
	return strings.EqualFold(string(k), name)
}

// Struct decodes an object key by key, in order, so that a duplicate
// key is decoded again into the same field, as encoding/json does.
func Struct[T any](v *fastjson.Value, out *T, field func([]byte, *fastjson.Value, *T) bool) bool {
	switch v.Type() {
	case fastjson.TypeNull:
		return true
	case fastjson.TypeObject:
	default:
		return false
	}
	o, _ := v.Object()
	ok := true
	o.Visit(func(k []byte, v *fastjson.Value) {
		ok = ok && field(k, v, out)
	})
	return ok
}

func String[T ~string](v *fastjson.Value, out *T) bool {
	switch v.Type() {
	case fastjson.TypeNull:
		return true
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		*out = T(b)
		return true
	}
	return false
}

func Bool[T ~bool](v *fastjson.Value, out *T) bool {
	switch v.Type() {
	case fastjson.TypeNull:
		return true
	case fastjson.TypeTrue:
		*out = true
		return true
	case fastjson.TypeFalse:
		*out = false
		return true
	}
	return false
}

// number is a number's text as written (fastjson keeps it).
func number(v *fastjson.Value) (string, bool) {
	if v.Type() != fastjson.TypeNumber {
		return "", false
	}
	return string(v.MarshalTo(nil)), true
}

func Int[T ~int | ~int8 | ~int16 | ~int32 | ~int64](v *fastjson.Value, out *T) bool {
	if v.Type() == fastjson.TypeNull {
		return true
	}
	s, ok := number(v)
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || int64(T(n)) != n {
		return false
	}
	*out = T(n)
	return true
}

func Uint[T ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64](v *fastjson.Value, out *T) bool {
	if v.Type() == fastjson.TypeNull {
		return true
	}
	s, ok := number(v)
	if !ok {
		return false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || uint64(T(n)) != n {
		return false
	}
	*out = T(n)
	return true
}

// Ptr: null clears the pointer; a value is decoded into the pointed-to
// value, allocated if the pointer is nil, kept (and merged into) if not.
func Ptr[T any](v *fastjson.Value, out **T, elem func(*fastjson.Value, *T) bool) bool {
	if v.Type() == fastjson.TypeNull {
		*out = nil
		return true
	}
	if *out == nil {
		*out = new(T)
	}
	return elem(v, *out)
}

// Slice follows encoding/json's array decode: elements are decoded
// into the slice's existing elements (up to its capacity), the slice is
// cut to the array's length, and an empty array is an empty, non-nil
// slice.
func Slice[T any](v *fastjson.Value, out *[]T, elem func(*fastjson.Value, *T) bool) bool {
	switch v.Type() {
	case fastjson.TypeNull:
		*out = nil
		return true
	case fastjson.TypeArray:
	default:
		return false
	}
	a, _ := v.Array()
	s := *out
	for i, e := range a {
		if i >= cap(s) {
			s = slices.Grow(s, 1)
		}
		if i >= len(s) {
			s = s[:i+1]
		}
		if !elem(e, &s[i]) {
			return false
		}
	}
	if len(a) < len(s) {
		s = s[:len(a)]
	}
	if len(a) == 0 {
		s = []T{}
	}
	*out = s
	return true
}

// Map adds the object's keys to the map (made if nil), each value
// decoded into a zero value first, as encoding/json does.
func Map[K ~string, T any](v *fastjson.Value, out *map[K]T, elem func(*fastjson.Value, *T) bool) bool {
	switch v.Type() {
	case fastjson.TypeNull:
		*out = nil
		return true
	case fastjson.TypeObject:
	default:
		return false
	}
	if *out == nil {
		*out = map[K]T{}
	}
	o, _ := v.Object()
	ok := true
	o.Visit(func(k []byte, v *fastjson.Value) {
		if !ok {
			return
		}
		var e T
		if ok = elem(v, &e); ok {
			(*out)[K(k)] = e
		}
	})
	return ok
}
