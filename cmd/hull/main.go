// Command hull is an OCI container runtime with runc's command line.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	// Every hull command's Go heap on huge pages: a few hundred fewer
	// page faults per command (docs/design.md, "The Go heap on huge pages").
	_ "github.com/hull-runtime/hull/internal/hugeheap"
	"github.com/hull-runtime/hull/libcontainer"
	"github.com/hull-runtime/hull/libcontainer/seccomp"
)

// Set at build time by the Makefile.
var (
	version = "dev"
	commit  = "unknown"
)

// The main goroutine keeps the main thread: the container init applies
// per-thread attributes and execs from it, and libcontainer/exeseal relies
// on no other goroutine ever running there.
func init() { runtime.LockOSThread() }

func main() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libcontainer.Init() // never returns
	}
	var log logTarget
	app := newApp(&log)
	if err := app.Run(interspersedArgs(app, os.Args)); err != nil {
		var code exitCode
		if errors.As(err, &code) {
			os.Exit(int(code))
		}
		log.error(err)
		os.Exit(1)
	}
}

// exitCode ends hull with a status and no message (run passes the
// container's status through).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// newApp builds the command line; log receives the --log flags once parsed.
func newApp(log *logTarget) *cli.App {
	// runc's shape: scripts read "<name> version X" and the "key: value"
	// lines (spec, go, libseccomp).
	cli.VersionPrinter = func(c *cli.Context) {
		fmt.Printf("hull version %s\ncommit: %s\nspec: %s\ngo: %s\nlibseccomp: %s\n", version, commit, specs.Version, runtime.Version(), seccomp.LibraryVersion())
	}
	return &cli.App{
		Name:                   "hull",
		Usage:                  "an OCI container runtime",
		Version:                version,
		UseShortOptionHandling: true,
		// As runc: `--env A=1,2` is one variable, and `--cgroup
		// cpu,cpuacct:sub` one argument.
		DisableSliceFlagSeparator: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: "/run/hull", Usage: "directory for container state"},
			&cli.StringFlag{Name: "log", Usage: "log file (default: stderr)"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json"},
			&cli.BoolFlag{Name: "debug", Usage: "log debug messages"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "manage cgroups through systemd"},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "auto, true or false: rootless mode (auto: unprivileged, or in a user namespace without host root); state then defaults to $XDG_RUNTIME_DIR/hull"},
			&cli.StringFlag{Name: "criu", Hidden: true},
		},
		Before: func(c *cli.Context) error {
			log.path, log.format = c.String("log"), c.String("log-format")
			if err := checkGlobalFlags(c); err != nil {
				return err
			}
			debugLog(c, "hull version %s (commit %s): %q", version, commit, os.Args[1:])
			return nil
		},
		Commands: []*cli.Command{
			createCommand, startCommand, stateCommand, killCommand, deleteCommand,
			runCommand, listCommand, specCommand, execCommand,
			psCommand, pauseCommand, resumeCommand, updateCommand, eventsCommand, featuresCommand,
			nspawnCommand, convertCommand, nspawnHookCommand,
		},
	}
}

func checkGlobalFlags(c *cli.Context) error {
	switch c.String("log-format") {
	case "text", "json":
	default:
		return fmt.Errorf("--log-format %q: must be text or json", c.String("log-format"))
	}
	if err := setupRootless(c); err != nil {
		return err
	}
	if isRootless(c) {
		return checkStateRoot(c.String("root"))
	}
	return nil
}

// requireID returns the command's first argument, the container id.
func requireID(c *cli.Context) (string, error) {
	id := c.Args().First()
	if id == "" {
		return "", fmt.Errorf("%s: missing container id (usage: hull %s %s)", c.Command.Name, c.Command.Name, c.Command.ArgsUsage)
	}
	return id, nil
}
