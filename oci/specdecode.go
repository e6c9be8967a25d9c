package oci

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/valyala/fastjson"
)

//go:generate go run ./internal/specdecgen specdecode_gen.go

// DecodeSpec decodes a config.json into a specs.Spec exactly as
// json.Unmarshal does, without encoding/json's reflection: that builds a
// decoder and an encoder for every type the spec reaches the first time
// a process decodes one (2-3 ms of CPU and ~70 first-touched heap pages
// in each create and run). fastjson parses, and functions generated from
// the spec's types (specdecode_gen.go) map the values with
// encoding/json's rules: keys matched exactly, then case-insensitively,
// in field order; unknown keys skipped; duplicate keys decoded in turn
// into the same value; null leaves scalars and structs alone and clears
// pointers, slices and maps; integers parsed by strconv as encoding/json
// parses them, overflow and fractions refused. Input the fast path does
// not reproduce (invalid JSON or UTF-8, escaped surrogates, any type
// mismatch, nesting deeper than fastjson's limit) goes to json.Unmarshal,
// so the verdict and the error are always encoding/json's own.
func DecodeSpec(data []byte) (*specs.Spec, error) {
	if spec, ok := decodeSpecFast(data); ok {
		return spec, nil
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, err
	}
	return &spec, nil
}

// decodeSpecFast is DecodeSpec without the fallback; ok is false where
// encoding/json must decide.
func decodeSpecFast(data []byte) (*specs.Spec, bool) {
	// json.Valid is encoding/json's own scanner (no reflection): the fast
	// path then only sees what json.Unmarshal accepts as JSON; fastjson
	// alone accepts more (NaN, unknown escapes).
	if !utf8.Valid(data) || hasSurrogateEscape(data) || !json.Valid(data) {
		return nil, false
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(data)
	if err != nil {
		return nil, false
	}
	spec := new(specs.Spec)
	if !decSpec(v, spec) {
		return nil, false
	}
	return spec, true
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

// foldEq is encoding/json's case-insensitive key match (its foldName is
// defined to agree with bytes.EqualFold).
func foldEq(k []byte, name string) bool {
	return strings.EqualFold(string(k), name)
}

// decStruct decodes an object key by key, in order, so that a duplicate
// key is decoded again into the same field, as encoding/json does.
func decStruct[T any](v *fastjson.Value, out *T, field func([]byte, *fastjson.Value, *T) bool) bool {
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

func decString[T ~string](v *fastjson.Value, out *T) bool {
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

func decBool[T ~bool](v *fastjson.Value, out *T) bool {
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

func decInt[T ~int | ~int8 | ~int16 | ~int32 | ~int64](v *fastjson.Value, out *T) bool {
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

func decUint[T ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64](v *fastjson.Value, out *T) bool {
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

// decPtr: null clears the pointer; a value is decoded into the pointed-to
// value, allocated if the pointer is nil, kept (and merged into) if not.
func decPtr[T any](v *fastjson.Value, out **T, elem func(*fastjson.Value, *T) bool) bool {
	if v.Type() == fastjson.TypeNull {
		*out = nil
		return true
	}
	if *out == nil {
		*out = new(T)
	}
	return elem(v, *out)
}

// decSlice follows encoding/json's array decode: elements are decoded
// into the slice's existing elements (up to its capacity), the slice is
// cut to the array's length, and an empty array is an empty, non-nil
// slice.
func decSlice[T any](v *fastjson.Value, out *[]T, elem func(*fastjson.Value, *T) bool) bool {
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

// decMap adds the object's keys to the map (made if nil), each value
// decoded into a zero value first, as encoding/json does.
func decMap[K ~string, T any](v *fastjson.Value, out *map[K]T, elem func(*fastjson.Value, *T) bool) bool {
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
