//go:build !hullfaults

package faults

// Hit is a fault point; a no-op in the release build.
func Hit(string) {}

// HitStep is the fault point "command/step", the name put together only
// in the build that has fault points (the release build's start path pays
// for no string).
func HitStep(command, step string) {}

// Env is what a child process needs to keep the fault points armed: nothing
// in the release build.
func Env() []string { return nil }

// Enabled says whether this build has fault points.
const Enabled = false
