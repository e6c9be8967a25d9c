package libcontainer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// encodeState is json.Marshal(savedFile{*s, spec}), byte for byte
// (TestEncodeStateAsMarshal), without encoding/json's reflection over the
// struct types: building its encoders for savedFile cost each create ~9
// first-touched heap pages. Only strings go through json.Marshal (its
// string encoder needs no field cache), the spec through Compact and
// HTMLEscape, as Marshal writes a json.RawMessage.
func encodeState(s *Saved, spec json.RawMessage) ([]byte, error) {
	b := []byte(`{"id":`)
	b = appendString(b, s.ID)
	b = append(b, `,"bundle":`...)
	b = appendString(b, s.Bundle)
	b = append(b, `,"rootfs":`...)
	b = appendString(b, s.Rootfs)
	created, err := s.Created.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("state created %v: %w", s.Created, err)
	}
	b = append(b, `,"created":`...)
	b = append(b, created...)
	b = append(b, `,"init":{"pid":`...)
	b = strconv.AppendInt(b, int64(s.Init.Pid), 10)
	b = append(b, `,"startTime":`...)
	b = strconv.AppendUint(b, s.Init.StartTime, 10)
	b = append(b, '}')
	if cg := s.Cgroup; cg != nil {
		b = append(b, `,"cgroup":{"driver":`...)
		b = appendString(b, string(cg.Driver))
		b = append(b, `,"path":`...)
		b = appendString(b, cg.Path)
		if len(cg.Paths) > 0 {
			b = append(b, `,"paths":{`...)
			for i, k := range slices.Sorted(maps.Keys(cg.Paths)) {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendString(b, k)
				b = append(b, ':')
				b = appendString(b, cg.Paths[k])
			}
			b = append(b, '}')
		}
		if cg.Dir != "" {
			b = append(b, `,"dir":`...)
			b = appendString(b, cg.Dir)
		}
		if cg.SystemdUser != 0 {
			b = append(b, `,"systemdUser":`...)
			b = strconv.AppendInt(b, int64(cg.SystemdUser), 10)
		}
		b = append(b, '}')
	}
	if s.NoNewKeyring {
		b = append(b, `,"noNewKeyring":true`...)
	}
	b = append(b, `,"spec":`...)
	if spec == nil {
		b = append(b, "null"...)
	} else {
		var compact bytes.Buffer
		if err := json.Compact(&compact, spec); err != nil {
			return nil, err
		}
		out := bytes.NewBuffer(b)
		json.HTMLEscape(out, compact.Bytes())
		b = out.Bytes()
	}
	return append(b, '}'), nil
}

// appendString appends s as json.Marshal writes a string.
func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always encodes
	return append(b, q...)
}
