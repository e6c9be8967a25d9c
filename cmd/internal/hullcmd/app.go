// Package hullcmd is hull's command line: the app with its global flags,
// logging and errors, and the runtime's commands. Two programs run it:
// cmd/hull (the runtime's commands; every container operation is a fresh
// hull process, so it links nothing else) and cmd/hull-nspawn (nspawn,
// convert, nspawn-hook, which hull execs), see docs/design.md, "A slim
// runtime binary".
package hullcmd

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	// One malloc arena for all threads and 256 KiB thread stacks: about
	// 2 ms less CPU per command (docs/design.md, "Thread memory").
	_ "github.com/hull-runtime/hull/internal/threadmem"
	// The main goroutine's stack grown once, in an early package init,
	// not copied twice later (docs/design.md, "Stacks grown once").
	_ "github.com/hull-runtime/hull/internal/stackgrow"
	// The Go runtime's own threads sleep with a timer slack of 1 ms, its
	// sysmon 10 ms: ~140 fewer wake-ups per run (docs/design.md, "The
	// runtime's threads sleep coarsely"); the container's processes keep
	// the caller's.
	_ "github.com/hull-runtime/hull/internal/threadslack"
	"github.com/hull-runtime/hull/libcontainer"
	"github.com/hull-runtime/hull/libcontainer/seccomp"
)

// Build names the build, as the Makefile sets it in each main package.
type Build struct{ Version, Commit string }

// The main goroutine keeps the main thread: the container init applies
// per-thread attributes and execs from it, and libcontainer/exeseal relies
// on no other goroutine ever running there.
func init() { runtime.LockOSThread() }

// Main runs the command line with commands, and those of handovers,
// which other programs run; it never returns. A container's init (the
// "init" argument) is started from the running binary, whichever of the
// two it is.
func Main(build Build, commands []*cli.Command, handovers ...Handover) {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libcontainer.Init() // never returns
	}
	if len(os.Args) == 1 {
		asCriuActionScript() // returns when hull is not that
	}
	var log logTarget
	app := newApp(&log, build, commands, handovers...)
	if err := app.Run(interspersedArgs(app, os.Args)); err != nil {
		var code exitCode
		if errors.As(err, &code) {
			os.Exit(int(code))
		}
		log.error(err)
		os.Exit(1)
	}
	os.Exit(0)
}

// exitCode ends hull with a status and no message (run passes the
// container's status through).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// ExitStatus is the error that ends hull with status and no message; nil
// for 0.
func ExitStatus(status int) error {
	if status == 0 {
		return nil
	}
	return exitCode(status)
}

// newApp builds the command line; log receives the --log flags once parsed.
func newApp(log *logTarget, build Build, commands []*cli.Command, handovers ...Handover) *cli.App {
	version, commit := build.Version, build.Commit
	handed := map[string]bool{}
	for _, h := range handovers {
		for _, c := range h.commands() {
			handed[c.Name] = true
			commands = append(commands, c)
		}
	}
	// runc's shape: scripts read "<name> version X" and the "key: value"
	// lines (spec, go, libseccomp).
	cli.VersionPrinter = func(c *cli.Context) {
		fmt.Printf("hull version %s\ncommit: %s\nspec: %s\ngo: %s\nlibseccomp: %s\n", version, commit, specs.Version, runtime.Version(), seccomp.LibraryVersion())
	}
	app := &cli.App{
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
			if !handedOver(c) {
				debugLog(c, "hull version %s (commit %s): %q", version, commit, os.Args[1:])
			}
			return nil
		},
		Commands: commands,
		Metadata: map[string]any{buildKey: build, handedOverKey: handed},
	}
	flagsWithNamesOnce(app.Flags)
	commandsWithNamesOnce(app.Commands)
	return app
}

const buildKey = "build"

// buildOf is the build the running app was made with.
func buildOf(c *cli.Context) Build {
	b, _ := c.App.Metadata[buildKey].(Build)
	return b
}

// RuntimeCommands are the runtime's own commands, runc's and hull's.
func RuntimeCommands() []*cli.Command {
	return []*cli.Command{
		createCommand(), startCommand(), stateCommand(), killCommand(), deleteCommand(),
		runCommand(), listCommand(), specCommand(), execCommand(),
		psCommand(), pauseCommand(), resumeCommand(), updateCommand(), eventsCommand(), featuresCommand(),
		checkpointCommand(), restoreCommand(),
	}
}

// NspawnSide are the commands hull-nspawn implements, without their
// actions: hull lists them and hands them over, hull-nspawn sets each
// one's action. nspawn and convert parse systemd-nspawn's flags themselves.
func NspawnSide() []*cli.Command {
	return []*cli.Command{
		{
			Name:            "nspawn",
			Usage:           "run a machine the way systemd-nspawn does (same flags and .nspawn files)",
			ArgsUsage:       "[systemd-nspawn flags] [--nspawn-file FILE] [--cgroups-path PATH] [-- command or init args]",
			SkipFlagParsing: true,
		},
		{
			Name:            "convert",
			Usage:           "write an OCI bundle from systemd-nspawn flags and .nspawn settings",
			ArgsUsage:       "[systemd-nspawn flags] [--nspawn-file FILE] [--cgroups-path PATH] --bundle OUT [-- args]",
			SkipFlagParsing: true,
		},
		{
			Name:      "nspawn-hook",
			Usage:     "host actions of converted machines, run as OCI hooks (chown-cgroup, add-veth, umount, …) or by hand (prepare BUNDLE)",
			ArgsUsage: "ACTION [ARGS…]",
			Hidden:    true,
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

// moreArgs says whether command takes arguments after the container id,
// and how many (-1: any), as runc counts them; every other takes the id
// alone.
func moreArgs(command string) (n int, ok bool) {
	switch command {
	case "kill":
		return 1, true
	case "exec", "ps":
		return -1, true
	}
	return 0, false
}

// requireID returns the command's first argument, the container id. As
// runc, it refuses arguments the command does not take: a word after the
// id of `run` is no command to run.
func requireID(c *cli.Context) (string, error) {
	id := c.Args().First()
	if id == "" {
		return "", fmt.Errorf("%s: missing container id (usage: hull %s %s)", c.Command.Name, c.Command.Name, c.Command.ArgsUsage)
	}
	if extra, ok := moreArgs(c.Command.Name); (!ok || extra >= 0) && c.NArg()-1 > extra {
		return "", fmt.Errorf("%s: too many arguments %q (usage: hull %s %s)", c.Command.Name, c.Args().Tail(), c.Command.Name, c.Command.ArgsUsage)
	}
	return id, nil
}
