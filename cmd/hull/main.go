// Command hull is an OCI container runtime with runc's command line.
package main

import (
	"github.com/hull-runtime/hull/cmd/internal/hullcmd"
)

// Set at build time by the Makefile.
var (
	version = "dev"
	commit  = "unknown"
)

// nspawnSide is the program of `hull nspawn`, `hull convert` and `hull
// nspawn-hook` (cmd/hull-nspawn), installed beside hull: the converter
// and what only it needs stay out of every runtime command's start
// (docs/design.md, "A slim runtime binary").
const nspawnSide = "hull-nspawn"

func main() {
	hullcmd.Main(hullcmd.Build{Version: version, Commit: commit}, hullcmd.RuntimeCommands(),
		hullcmd.Handover{Program: nspawnSide, Commands: hullcmd.NspawnSide()})
}
