package jsondec

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/valyala/fastjson"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{`{"a":[1,"b",null,true]}`, true},
		{`"\u00e9\n\\ud800"`, false}, // an escaped backslash, then text: left to encoding/json all the same
		{`"\ud800"`, false},          // encoding/json writes U+FFFD
		{`"\uDBFF\uDFFF"`, false},    // left to encoding/json too
		{"\"\xff\"", false},          // invalid UTF-8
		{`NaN`, false},               // fastjson takes it, encoding/json does not
		{`{"a":1,}`, false},
		{`01`, false},
		{`"\x"`, false},
	} {
		_, ok := Parse([]byte(tc.in))
		if ok != tc.ok {
			t.Errorf("Parse(%s) ok %v, want %v", tc.in, ok, tc.ok)
		}
	}
}

// The helpers agree with json.Unmarshal on what they decide; false
// (undecided) only where encoding/json rejects, here.
func TestHelpers(t *testing.T) {
	type pair struct {
		A []int8          `json:"a"`
		M map[string]uint `json:"m"`
	}
	field := func(k []byte, v *fastjson.Value, out *pair) bool {
		switch {
		case FoldEq(k, "a"):
			return Slice(v, &out.A, Int[int8])
		case FoldEq(k, "m"):
			return Map(v, &out.M, Uint[uint])
		}
		return true
	}
	for _, in := range []string{
		`{"a":[1,-128,127],"m":{"x":18446744073709551615}}`,
		`{"A":[1,2,3],"a":[4],"a":[5,6]}`,
		`{"a":[128]}`, `{"a":[-129]}`, `{"a":[1.5]}`, `{"m":{"x":-1}}`, `{"m":{"x":"1"}}`,
		`{"a":null,"m":null}`, `{"a":[],"m":{}}`, `{"m":{"x":1},"m":{"y":2}}`, `null`,
	} {
		var want pair
		werr := json.Unmarshal([]byte(in), &want)
		v, ok := Parse([]byte(in))
		if !ok {
			t.Fatalf("Parse(%s) failed", in)
		}
		var got pair
		decided := Struct(v, &got, field)
		if decided && (werr != nil || !reflect.DeepEqual(got, want)) {
			t.Errorf("%s: decoded %+v, encoding/json %+v (%v)", in, got, want, werr)
		}
		if !decided && werr == nil {
			t.Errorf("%s: undecided, encoding/json decodes it", in)
		}
	}
}
