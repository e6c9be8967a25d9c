package oci

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestStateJSON(t *testing.T) {
	created := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		state State
		want  string
	}{
		{"stopped: pid 0 written", State{State: specs.State{Version: "1.2.1", ID: "a", Status: specs.StateStopped, Bundle: "/b"}, Rootfs: "/b/rootfs", Created: created},
			`{"ociVersion":"1.2.1","id":"a","pid":0,"status":"stopped","bundle":"/b","rootfs":"/b/rootfs","created":"2026-12-07T06:00:00Z","owner":""}`},
		{"running with annotations", State{State: specs.State{Version: "1.2.1", ID: "a", Status: specs.StateRunning, Pid: 42, Bundle: "/b", Annotations: map[string]string{"k": "v"}}, Rootfs: "/r", Created: created},
			`{"ociVersion":"1.2.1","id":"a","pid":42,"status":"running","bundle":"/b","rootfs":"/r","created":"2026-12-07T06:00:00Z","owner":"","annotations":{"k":"v"}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.state)
			if err != nil || string(b) != tc.want {
				t.Fatalf("got %s, %v\nwant %s", b, err, tc.want)
			}
			var back State
			if err := json.Unmarshal(b, &back); err != nil || back.Pid != tc.state.Pid || back.ID != tc.state.ID || !back.Created.Equal(created) || !strings.Contains(string(b), `"status":"`+string(tc.state.Status)) {
				t.Errorf("decoded %+v, %v", back, err)
			}
		})
	}
}
