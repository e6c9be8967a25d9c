// Command hull-nspawn is hull's nspawn side: `hull nspawn`, `hull convert`
// and `hull nspawn-hook`, which hull execs (same process, same arguments)
// so that the runtime's own commands link neither the converter nor what
// only it needs (nftables, machined's D-Bus, crypto/rand); see
// docs/design.md, "A slim runtime binary". Its machines' containers are
// started from this binary, as hull's are from hull.
package main

import (
	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/cmd/internal/hullcmd"
)

// Set at build time by the Makefile.
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	hullcmd.Main(hullcmd.Build{Version: version, Commit: commit}, commands())
}

// commands are hull's nspawn side, as hull lists them, with their actions.
func commands() []*cli.Command {
	actions := map[string]cli.ActionFunc{"nspawn": nspawnRun, "convert": convert, "nspawn-hook": nspawnHook}
	cmds := hullcmd.NspawnSide()
	for _, c := range cmds {
		c.Action = actions[c.Name]
	}
	return cmds
}
