package libcontainer

import (
	"encoding/json"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// sameStateAsEncodingJSON fails t unless decodeStateFast, where it
// decides, gives what Load's encoding/json path gives: savedFile's
// fields, a view that decodes, and the spec FullSpec decodes. It returns
// whether the fast path decided.
func sameStateAsEncodingJSON(t *testing.T, data []byte) bool {
	t.Helper()
	got, ok := decodeStateFast(data)
	if !ok {
		return false
	}
	var want savedFile
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("%q: the fast path accepted what encoding/json rejects (%v)", data, err)
	}
	if !reflect.DeepEqual(got.Saved, want.Saved) {
		t.Fatalf("%q: state differs\nencoding/json: %+v\nfast path:     %+v", data, want.Saved, got.Saved)
	}
	var wantSpec *specs.Spec
	if len(want.Spec) > 0 && string(want.Spec) != "null" {
		var view specView
		if err := json.Unmarshal(want.Spec, &view); err != nil {
			t.Fatalf("%q: the fast path accepted a spec whose view encoding/json rejects (%v)", data, err)
		}
		wantSpec = new(specs.Spec)
		if err := json.Unmarshal(want.Spec, wantSpec); err != nil {
			t.Fatalf("%q: the fast path accepted a spec encoding/json rejects (%v)", data, err)
		}
	}
	if !reflect.DeepEqual(got.spec, wantSpec) {
		t.Fatalf("%q: spec differs\nencoding/json: %+v\nfast path:     %+v", data, wantSpec, got.spec)
	}
	return true
}

func TestDecodeStateFast(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		fast bool
	}{
		{"as create writes it", `{"id":"c","bundle":"/b","rootfs":"/r","created":"2026-12-06T12:35:56.009953863Z","init":{"pid":27336,"startTime":3152004},` +
			`"cgroup":{"driver":"cgroupfs-v1","path":"/hull/c","paths":{"cpu":"/sys/fs/cgroup/cpu/hull/c"}},"spec":{"ociVersion":"1.3.0","process":{"args":["true"],"cwd":"/"}}}`, true},
		{"first save: spec null", `{"id":"c","init":{"pid":0,"startTime":0},"spec":null}`, true},
		{"no spec key", `{"id":"c"}`, true},
		{"keys in any case", `{"ID":"c","Init":{"PID":3,"STARTTIME":4},"Cgroup":{"Paths":{"a":"b"},"SystemdUser":5},"SPEC":{"Hostname":"h"}}`, true},
		{"exact key wins", `{"ID":"x","id":"c","Id":"y"}`, true},
		{"duplicate spec replaces", `{"spec":{"hostname":"a"},"spec":{"process":{"cwd":"/"}}}`, true},
		{"duplicate spec, null last", `{"spec":{"hostname":"a"},"spec":null}`, true},
		{"duplicate cgroup merges", `{"cgroup":{"path":"/p","paths":{"a":"1"}},"cgroup":{"paths":{"b":"2"}}}`, true},
		{"duplicate created replaces", `{"created":"2026-01-01T00:00:00Z","created":"2025-01-01T00:00:00+02:00"}`, true},
		{"created null", `{"created":null}`, true},
		{"unknown keys", `{"start":1,"x":{"y":[1]},"init":{"pid":1,"start":2}}`, true},
		{"created with an escape", `{"created":"2026-01-01T00:00:00\u005a"}`, false},
		{"created not a time", `{"created":"nope"}`, false},
		{"created a number", `{"created":5}`, false},
		{"pid a string", `{"init":{"pid":"1"}}`, false},
		{"startTime negative", `{"init":{"startTime":-1}}`, false},
		{"spec a number", `{"spec":5}`, false},
		{"type error outside the view", `{"spec":{"annotations":{"a":"b"},"process":5}}`, false},
		{"not JSON", `{"id":`, false},
		{"top-level null", `null`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if fast := sameStateAsEncodingJSON(t, []byte(tc.in)); fast != tc.fast {
				t.Errorf("fast path decided: %v, want %v", fast, tc.fast)
			}
		})
	}
}
