package libcontainer

import (
	"bytes"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/valyala/fastjson"

	"github.com/hull-runtime/hull/libcontainer/cgroups"
	"github.com/hull-runtime/hull/libcontainer/state"
	"github.com/hull-runtime/hull/oci"
	"github.com/hull-runtime/hull/oci/jsondec"
)

// loadedState is a state file decoded by decodeStateFast: Saved's fields
// and the whole spec (nil for "spec": null).
type loadedState struct {
	Saved
	spec *specs.Spec
}

// decodeStateFast decodes a state file as json.Unmarshal into savedFile
// and oci.DecodeSpec of its spec would, without encoding/json's
// reflection (state, start, kill and delete paid ~0.5 ms and ~12 first
// touched heap pages for its caches of savedFile and the spec's view).
// ok is false where encoding/json must decide: Load then decodes as
// before, so the verdicts and errors are its own.
func decodeStateFast(data []byte) (loadedState, bool) {
	var f loadedState
	v, ok := jsondec.Parse(data)
	return f, ok && jsondec.Struct(v, &f, loadedStateField)
}

// matchKey is the one of keys (a struct's JSON keys in field order) that
// k names, matched as encoding/json matches: exactly, then
// case-insensitively; "" for none.
func matchKey(k []byte, keys ...string) string {
	for _, name := range keys {
		if string(k) == name {
			return name
		}
	}
	for _, name := range keys {
		if jsondec.FoldEq(k, name) {
			return name
		}
	}
	return ""
}

func loadedStateField(k []byte, v *fastjson.Value, f *loadedState) bool {
	switch matchKey(k, "id", "bundle", "rootfs", "created", "init", "cgroup", "spec") {
	case "id":
		return jsondec.String(v, &f.ID)
	case "bundle":
		return jsondec.String(v, &f.Bundle)
	case "rootfs":
		return jsondec.String(v, &f.Rootfs)
	case "created":
		return decodeTime(v, &f.Created)
	case "init":
		return jsondec.Struct(v, &f.Init, processField)
	case "cgroup":
		return jsondec.Ptr(v, &f.Cgroup, func(v *fastjson.Value, s *cgroups.State) bool {
			return jsondec.Struct(v, s, cgroupField)
		})
	case "spec":
		// A json.RawMessage: each occurrence of the key replaces the last.
		if v.Type() == fastjson.TypeNull {
			f.spec = nil
			return true
		}
		var ok bool
		f.spec, ok = oci.DecodeSpecValue(v)
		return ok
	}
	return true
}

// decodeTime calls time.Time's UnmarshalJSON with the value's text, as
// encoding/json does; text with escapes is left to encoding/json (it
// passes the text as written, fastjson keeps it unescaped).
func decodeTime(v *fastjson.Value, t *time.Time) bool {
	raw := v.MarshalTo(nil)
	if bytes.IndexByte(raw, '\\') >= 0 {
		return false
	}
	return t.UnmarshalJSON(raw) == nil
}

func processField(k []byte, v *fastjson.Value, p *state.Process) bool {
	switch matchKey(k, "pid", "startTime") {
	case "pid":
		return jsondec.Int(v, &p.Pid)
	case "startTime":
		return jsondec.Uint(v, &p.StartTime)
	}
	return true
}

func cgroupField(k []byte, v *fastjson.Value, s *cgroups.State) bool {
	switch matchKey(k, "driver", "path", "paths", "dir", "systemdUser") {
	case "driver":
		return jsondec.String(v, &s.Driver)
	case "path":
		return jsondec.String(v, &s.Path)
	case "paths":
		return jsondec.Map(v, &s.Paths, jsondec.String[string])
	case "dir":
		return jsondec.String(v, &s.Dir)
	case "systemdUser":
		return jsondec.Int(v, &s.SystemdUser)
	}
	return true
}
