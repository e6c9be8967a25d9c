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

func main() {
	cmds := hullcmd.RuntimeCommands()
	for _, c := range hullcmd.NspawnSide() {
		c.SkipFlagParsing = true // hull-nspawn parses them
		c.Action = toNspawnSide
		cmds = append(cmds, c)
	}
	hullcmd.Main(hullcmd.Build{Version: version, Commit: commit}, cmds)
}
