package hullcmd

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libcontainer"
	"github.com/hull-runtime/hull/libcontainer/console"
	"github.com/hull-runtime/hull/oci"
)

// createFlags are create's flags, and run's with its own.
func createFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: ".", Usage: "bundle directory"},
		&cli.StringFlag{Name: "console-socket", Usage: "unix socket that receives the pty master when process.terminal is true"},
		&cli.StringFlag{Name: "pid-file", Usage: "file to write the init's pid to"},
		&cli.BoolFlag{Name: "no-pivot", Usage: "use MS_MOVE and chroot instead of pivot_root"},
		&cli.BoolFlag{Name: "no-new-keyring", Usage: "keep the caller's session keyring"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass this many fds, from 3 on, to the container"},
		&cli.StringFlag{Name: "pidfd-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the init process"},
	}
}

func createCommand() *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "create a container, its init waiting for start",
		ArgsUsage: "<container-id>",
		Flags:     createFlags(),
		Action: func(c *cli.Context) error {
			ctr, err := create(c, nil)
			if err != nil {
				return err
			}
			ctr.Close()
			return nil
		},
	}
}

// create makes the container; consoleSock, if not nil, overrides
// --console-socket (run uses its own to proxy the terminal).
func create(c *cli.Context, consoleSock *os.File) (*libcontainer.Container, error) {
	id, err := requireID(c)
	if err != nil {
		return nil, err
	}
	b, err := oci.LoadBundle(c.String("bundle"))
	if err != nil {
		return nil, err
	}
	return createFromBundle(c, id, b, consoleSock)
}

func createFromBundle(c *cli.Context, id string, b *oci.Bundle, consoleSock *os.File) (*libcontainer.Container, error) {
	if c.String("console-socket") != "" && (b.Spec.Process == nil || !b.Spec.Process.Terminal) {
		// As runc: a receiver would wait for a pty that never comes.
		return nil, fmt.Errorf("--console-socket: process.terminal is false in %s, so there is no pty to send", b.ConfigPath())
	}
	if consoleSock == nil && c.String("console-socket") != "" {
		s, err := console.Dial(c.String("console-socket"))
		if err != nil {
			return nil, err
		}
		defer s.Close()
		consoleSock = s
	}
	ctr, err := libcontainer.Create(libcontainer.CreateOpts{
		Root:          c.String("root"),
		ID:            id,
		Bundle:        b,
		ConsoleSocket: consoleSock,
		NoPivot:       c.Bool("no-pivot"),
		NoNewKeyring:  c.Bool("no-new-keyring"),
		PreserveFDs:   c.Int("preserve-fds"),
		SystemdCgroup: c.Bool("systemd-cgroup"),
		Rootless:      isRootless(c),
	})
	if err != nil {
		return nil, err
	}
	logWarnings(c, ctr.Warnings)
	debugLog(c, "container %s created from bundle %s: init pid %d", id, b.Dir, ctr.Init.Pid)
	if path := c.String("pidfd-socket"); path != "" {
		if err := sendPidfd(path, ctr.Init, "standard"); err != nil {
			ctr.Delete(true)
			return nil, err
		}
	}
	if path := c.String("pid-file"); path != "" {
		if err := writePidFile(path, ctr.Init.Pid); err != nil {
			ctr.Delete(true)
			return nil, err
		}
	}
	return ctr, nil
}
