package oci

import (
	"encoding/json"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Status values beyond the spec's four: runc reports "paused" for a frozen
// container, and engines expect it.
const StatusPaused specs.ContainerState = "paused"

// State is what `hull state` prints: the spec's state plus the fields runc
// adds, which engines such as containerd read.
type State struct {
	specs.State
	Rootfs  string    `json:"rootfs"`
	Created time.Time `json:"created"`
	Owner   string    `json:"owner"`
}

// MarshalJSON writes pid even when it is 0, a stopped container's, as
// runc's state does; specs.State leaves a 0 out.
func (s State) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Version     string               `json:"ociVersion"`
		ID          string               `json:"id"`
		Pid         int                  `json:"pid"`
		Status      specs.ContainerState `json:"status"`
		Bundle      string               `json:"bundle"`
		Rootfs      string               `json:"rootfs"`
		Created     time.Time            `json:"created"`
		Owner       string               `json:"owner"`
		Annotations map[string]string    `json:"annotations,omitempty"`
	}{s.Version, s.ID, s.Pid, s.Status, s.Bundle, s.Rootfs, s.Created, s.Owner, s.Annotations})
}
