package oci

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"os"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// sameAsEncodingJSON fails t unless DecodeSpec gives json.Unmarshal's
// verdict, error text and value, and the fast path, where it decides,
// json.Unmarshal's value. It returns whether the fast path decided.
func sameAsEncodingJSON(t *testing.T, data []byte) bool {
	t.Helper()
	var want specs.Spec
	werr := json.Unmarshal(data, &want)
	got, gerr := DecodeSpec(data)
	if (werr == nil) != (gerr == nil) || werr != nil && werr.Error() != gerr.Error() {
		t.Fatalf("%q:\nencoding/json: %v\nDecodeSpec:    %v", data, werr, gerr)
	}
	if werr == nil && !reflect.DeepEqual(*got, want) {
		t.Fatalf("%q: values differ\nencoding/json: %#v\nDecodeSpec:    %#v", data, want, *got)
	}
	fast, ok := decodeSpecFast(data)
	if ok && werr != nil {
		t.Fatalf("%q: the fast path accepted what encoding/json rejects (%v)", data, werr)
	}
	if ok && !reflect.DeepEqual(*fast, want) {
		t.Fatalf("%q: fast path's value differs\nencoding/json: %#v\nfast path:     %#v", data, want, *fast)
	}
	return ok
}

// TestDecodeSpecTable: the rules of encoding/json the fast path
// reproduces (fast: it decides them itself) and those it leaves to
// encoding/json (fast: false, the result is encoding/json's).
func TestDecodeSpecTable(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		fast bool
	}{
		{"empty object", `{}`, true},
		{"top-level null", `null`, true},
		{"unknown fields ignored", `{"nope":{"a":[1,2,{"b":null}]},"process":{"x":1,"cwd":"/"}}`, true},
		{"case-insensitive keys", `{"OCIVERSION":"1.0","Process":{"CWD":"/","ARGS":["a"],"User":{"UID":5}},"LINUX":{"NameSpaces":[{"TYPE":"pid"}]}}`, true},
		{"exact key wins over folded", `{"ociversion":"a","ociVersion":"b","OCIVERSION":"c"}`, true},
		{"unicode fold: kelvin sign", "{\"hoo\u212as\":{\"poststop\":[{\"path\":\"/p\"}]}}", true},
		{"unicode fold: long s", "{\"ho\u017Ftname\":\"h\"}", true},
		{"duplicate scalar: last wins", `{"hostname":"a","hostname":"b"}`, true},
		{"duplicate object: merged", `{"process":{"cwd":"/"},"process":{"args":["x"]}}`, true},
		{"duplicate array of structs: elements reused", `{"mounts":[{"destination":"/a","source":"s"},{"destination":"/b"}],"mounts":[{"type":"t"}],"mounts":[{},{}]}`, true},
		{"duplicate map: merged", `{"annotations":{"a":"1","b":"2"},"annotations":{"b":"3"}}`, true},
		{"null clears pointer", `{"process":{"cwd":"/"},"process":null}`, true},
		{"null clears slice and map", `{"mounts":[{}],"mounts":null,"annotations":{"a":"b"},"annotations":null}`, true},
		{"null leaves scalars", `{"hostname":"a","hostname":null,"process":{"terminal":true,"terminal":null,"user":{"uid":3,"uid":null}}}`, true},
		{"null in a map is the zero value", `{"annotations":{"a":null}}`, true},
		{"null in arrays", `{"process":{"args":[null,"a"]},"mounts":[null]}`, true},
		{"empty array is not nil", `{"process":{"args":[]},"mounts":[]}`, true},
		{"escaped key", `{"\u0070rocess":{"cwd":"/"},"annotations":{"\u0041\n":"\/"}}`, true},
		{"empty key", `{"":1,"process":{"":null}}`, true},
		{"escapes", `{"hostname":"a\"b\\c\/d\b\f\n\r\t\u00e9\u0000\u2028"}`, true},
		{"utf-8", `{"hostname":"héllo, 世界 🙂"}`, true},
		{"int64 limits", `{"linux":{"resources":{"memory":{"limit":9223372036854775807,"reservation":-9223372036854775808}}}}`, true},
		{"uint64 limit", `{"linux":{"resources":{"memory":{"swappiness":18446744073709551615}}}}`, true},
		{"negative zero int", `{"process":{"user":{"uid":-0}}}`, false}, // ParseUint refuses "-0": encoding/json too
		{"int overflow", `{"linux":{"resources":{"memory":{"limit":9223372036854775808}}}}`, false},
		{"uint64 overflow", `{"linux":{"resources":{"memory":{"swappiness":18446744073709551616}}}}`, false},
		{"int32 limits", `{"process":{"scheduler":{"nice":-2147483648,"priority":2147483647}}}`, true},
		{"int32 overflow", `{"process":{"scheduler":{"nice":2147483648}}}`, false},
		{"uint32 overflow", `{"process":{"user":{"uid":4294967296}}}`, false},
		{"uint16 overflow", `{"linux":{"resources":{"blockIO":{"weight":65536}}}}`, false},
		{"negative uint", `{"process":{"user":{"uid":-1}}}`, false},
		{"float in int field", `{"process":{"user":{"uid":1.0}}}`, false},
		{"exponent in int field", `{"process":{"user":{"uid":1e2}}}`, false},
		{"string in int field", `{"process":{"user":{"uid":"1"}}}`, false},
		{"number in string field", `{"hostname":1}`, false},
		{"string in bool field", `{"process":{"terminal":"true"}}`, false},
		{"object in array field", `{"process":{"args":{"a":1}}}`, false},
		{"array in struct field", `{"process":[]}`, false},
		{"top-level array", `[]`, false},
		{"top-level string", `"x"`, false},
		{"syntax error", `{"process":{"cwd":"/",}}`, false},
		{"trailing garbage", `{} x`, false},
		{"NaN", `{"process":{"user":{"uid":NaN}}}`, false},
		{"leading zero", `{"process":{"user":{"uid":01}}}`, false},
		{"invalid escape", `{"hostname":"\x"}`, false},
		{"raw control character", "{\"hostname\":\"a\tb\"}", false},
		{"invalid utf-8", "{\"hostname\":\"a\xffb\"}", false},
		{"invalid utf-8 in a key", "{\"hostname\xff\":\"a\"}", false},
		{"lone surrogate escape", `{"hostname":"\ud800"}`, false},
		{"surrogate pair escape", `{"hostname":"\ud83d\ude42"}`, false},
		{"interface field", `{"windows":{"credentialSpec":{"a":[1,"b"]}}}`, false},
		{"empty input", ``, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if fast := sameAsEncodingJSON(t, []byte(tc.in)); fast != tc.fast {
				t.Errorf("fast path decided: %v, want %v", fast, tc.fast)
			}
		})
	}
}

// TestDecodeSpecErrorNamesField: the error ReadSpec reports for a bad
// config.json still names the file, the field and the value's type.
func TestDecodeSpecErrorNamesField(t *testing.T) {
	path := t.TempDir() + "/config.json"
	if err := os.WriteFile(path, []byte(`{"ociVersion":"1.0.2","process":{"user":{"uid":"root"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadSpec(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `field "process.user.uid"`) || !strings.Contains(err.Error(), "string") {
		t.Fatalf("error %v does not name the file, process.user.uid and the value's type", err)
	}
}

// TestDecodeSpecRandom: specs with every field of every type set to
// random values (and random keys' case) decode as encoding/json decodes
// them, by the fast path.
func TestDecodeSpecRandom(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 300; i++ {
		var s specs.Spec
		fillRandom(r, reflect.ValueOf(&s).Elem(), 0)
		data, err := json.Marshal(&s)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			data = shuffleCase(r, data)
		}
		if !sameAsEncodingJSON(t, data) {
			t.Fatalf("%s: the fast path gave up", data)
		}
	}
}

// TestDecodeSpecSeeds: the configs hull writes and tests use decode by
// the fast path, as encoding/json decodes them.
func TestDecodeSpecSeeds(t *testing.T) {
	for i, data := range specSeeds(t) {
		if !sameAsEncodingJSON(t, data) {
			t.Errorf("seed %d: the fast path gave up", i)
		}
	}
}

func specSeeds(t testing.TB) [][]byte {
	base, err := json.MarshalIndent(DefaultSpec(), "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	seeds := [][]byte{base}
	if prof, err := os.ReadFile("../libcontainer/seccomp/testdata/default.json"); err == nil {
		seeds = append(seeds, []byte(`{"ociVersion":"1.0.2","linux":{"seccomp":`+string(prof)+`}}`))
	}
	r := rand.New(rand.NewSource(2))
	var s specs.Spec
	fillRandom(r, reflect.ValueOf(&s).Elem(), 0)
	if full, err := json.Marshal(&s); err == nil {
		seeds = append(seeds, full)
	}
	return seeds
}

// FuzzDecodeSpec: DecodeSpec's verdict, error and value are
// encoding/json's; where the fast path decides, its value is too.
func FuzzDecodeSpec(f *testing.F) {
	for _, s := range specSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte(`{"Process":{"args":["a"],"ARGS":null,"User":{"uid":1,"UID":2}},"mounts":[{"destination":"/a"}],"mounts":[{}]}`))
	f.Add([]byte(`{"linux":{"resources":{"memory":{"limit":-1,"swap":18446744073709551615},"blockIO":{"weightDevice":[{"major":1,"minor":2,"weight":3}]}}}}`))
	f.Add([]byte(`{"annotations":{"a":"\u00e9\n","b":null},"hostname":"\ud800"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsEncodingJSON(t, data)
	})
}

// fillRandom sets v (and everything it reaches) to random values, so
// that a marshalled spec has every key of every type.
func fillRandom(r *rand.Rand, v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString([]string{"", "a", "/x/y", "é\n\"", "CAP_KILL", "pid"}[r.Intn(6)])
	case reflect.Bool:
		v.SetBool(r.Intn(2) == 1)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := v.Type().Bits()
		v.SetInt(r.Int63() >> (64 - bits) * int64(1-2*r.Intn(2)))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(r.Uint64() >> (64 - v.Type().Bits()))
	case reflect.Pointer:
		if r.Intn(4) > 0 && depth < 12 {
			v.Set(reflect.New(v.Type().Elem()))
			fillRandom(r, v.Elem(), depth+1)
		}
	case reflect.Slice:
		n := r.Intn(3)
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := 0; i < n; i++ {
			fillRandom(r, v.Index(i), depth+1)
		}
	case reflect.Map:
		n := r.Intn(3)
		v.Set(reflect.MakeMapWithSize(v.Type(), n))
		for i := 0; i < n; i++ {
			k := reflect.New(v.Type().Key()).Elem()
			k.SetString(string(rune('a' + i)))
			e := reflect.New(v.Type().Elem()).Elem()
			fillRandom(r, e, depth+1)
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Field(i).CanSet() || v.Type().Field(i).Anonymous {
				fillRandom(r, v.Field(i), depth+1)
			}
		}
	}
}

// shuffleCase changes the case of some letters of the object keys.
func shuffleCase(r *rand.Rand, data []byte) []byte {
	var m any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber() // numbers kept as written
	if d.Decode(&m) != nil {
		return data
	}
	out, _ := json.Marshal(recase(r, m))
	return out
}

func recase(r *rand.Rand, v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if r.Intn(2) == 0 {
				k = strings.ToUpper(k)
			}
			out[k] = recase(r, e)
		}
		return out
	case []any:
		for i := range x {
			x[i] = recase(r, x[i])
		}
	}
	return v
}
