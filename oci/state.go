package oci

import (
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
