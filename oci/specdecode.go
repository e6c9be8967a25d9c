package oci

import (
	"encoding/json"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/oci/jsondec"
)

//go:generate go run ./internal/specdecgen specdecode_gen.go

// DecodeSpec decodes a config.json into a specs.Spec exactly as
// json.Unmarshal does, without encoding/json's reflection (which costs
// each create and run 2-3 ms of CPU and ~70 first-touched heap pages):
// functions generated from the spec's types (specdecode_gen.go) map
// fastjson's values with encoding/json's rules (package jsondec). Input
// the fast path does not reproduce goes to json.Unmarshal, so the verdict
// and the error are always encoding/json's own.
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
	v, ok := jsondec.Parse(data)
	if !ok {
		return nil, false
	}
	spec := new(specs.Spec)
	if !decSpec(v, spec) {
		return nil, false
	}
	return spec, true
}
