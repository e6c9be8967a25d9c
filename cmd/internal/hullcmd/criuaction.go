package hullcmd

import (
	"fmt"
	"os"

	"github.com/hull-runtime/hull/libcontainer"
)

// asCriuActionScript runs hull as criu's action script when a restore
// made it that (libcontainer/restore_hooks.go): criu runs it with no
// arguments, the step in CRTOOLS_SCRIPT_ACTION and the restore's hooks
// file in the environment it was given. Otherwise it returns.
func asCriuActionScript() {
	path, action := os.Getenv(libcontainer.EnvRestoreHooks), os.Getenv("CRTOOLS_SCRIPT_ACTION")
	if path == "" || action == "" {
		return
	}
	if err := libcontainer.RunRestoreHooks(path, action, os.Getenv("CRTOOLS_INIT_PID")); err != nil {
		fmt.Fprintln(os.Stderr, "hull:", err)
		os.Exit(1)
	}
	os.Exit(0)
}
