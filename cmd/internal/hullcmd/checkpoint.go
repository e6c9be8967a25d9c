package hullcmd

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer"
	"github.com/hull-runtime/hull/libcontainer/criu"
	"github.com/hull-runtime/hull/oci"
)

// criuFlags are checkpoint's and restore's own flags, as runc names them,
// made anew for each command that takes them.
func criuFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "image-path", Usage: "directory of the checkpoint image (default: ./checkpoint)"},
		&cli.StringFlag{Name: "work-path", Usage: "directory of criu's logs (default: the image path)"},
		&cli.BoolFlag{Name: "tcp-established", Usage: "allow open TCP connections"},
		&cli.BoolFlag{Name: "ext-unix-sk", Usage: "allow external unix sockets"},
		&cli.BoolFlag{Name: "shell-job", Usage: "allow shell jobs"},
		&cli.BoolFlag{Name: "file-locks", Usage: "handle file locks"},
		&cli.BoolFlag{Name: "auto-dedup", Usage: "deduplicate the image's memory pages against a parent image"},
		&cli.StringFlag{Name: "manage-cgroups-mode", Usage: "cgroups mode: soft (default), full, strict or ignore"},
		&cli.StringFlag{Name: "empty-ns", Usage: "network (always so: the network namespace's contents are left to whoever sets it up)"},
	}
}

// unsupportedCriuFlags are runc's flags of criu features hull does not
// offer (true: a flag without a value): each is refused by name rather
// than ignored.
func unsupportedCriuFlags() map[string]bool {
	return map[string]bool{"pre-dump": true, "lazy-pages": true,
		"parent-path": false, "page-server": false, "status-fd": false, "lsm-profile": false, "lsm-mount-context": false}
}

func unsupportedFlags() []cli.Flag {
	var out []cli.Flag
	for n, isBool := range unsupportedCriuFlags() {
		if isBool {
			out = append(out, &cli.BoolFlag{Name: n, Hidden: true})
		} else {
			out = append(out, &cli.StringFlag{Name: n, Hidden: true})
		}
	}
	return out
}

func checkpointCommand() *cli.Command {
	return &cli.Command{
		Name:      "checkpoint",
		Usage:     "checkpoint a running container with criu (then deleted, unless --leave-running)",
		ArgsUsage: "<container-id>",
		Flags: slices.Concat(criuFlags(), []cli.Flag{
			&cli.BoolFlag{Name: "leave-running", Usage: "leave the processes running after the checkpoint"},
		}, unsupportedFlags()),
		Action: func(c *cli.Context) error {
			o, err := criuOptions(c)
			if err != nil {
				return err
			}
			return withContainer(c, false, func(ctr *libcontainer.Container) error {
				return ctr.Checkpoint(libcontainer.CheckpointOpts{Options: o, CriuPath: criuPath(c),
					LeaveRunning: c.Bool("leave-running"), Rootless: isRootless(c)})
			})
		},
	}
}

func restoreCommand() *cli.Command {
	return &cli.Command{
		Name:      "restore",
		Usage:     "restore a container from a checkpoint image with criu",
		ArgsUsage: "<container-id>",
		Flags: slices.Concat(criuFlags(), []cli.Flag{
			&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: ".", Usage: "bundle directory"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return once the container runs"},
			&cli.StringFlag{Name: "pid-file", Usage: "file to write the init's pid to"},
			&cli.StringFlag{Name: "console-socket", Usage: "refused: restoring a container with a terminal is not supported"},
			&cli.BoolFlag{Name: "no-pivot", Usage: "accepted for runc's command line: criu sets the root up itself"},
			// The restored init is hull's own child (criu's --restore-sibling)
			// and reaps the container's orphans itself (its pid namespace).
			&cli.BoolFlag{Name: "no-subreaper", Usage: "accepted for runc's command line: restore uses no subreaper"},
		}, unsupportedFlags()),
		Action: restore,
	}
}

func criuPath(c *cli.Context) string {
	if p := c.String("criu"); p != "" {
		return p
	}
	return "criu"
}

// criuOptions reads the flags both commands share, refusing the ones hull
// does not offer.
func criuOptions(c *cli.Context) (criu.Options, error) {
	for n := range unsupportedCriuFlags() {
		if c.IsSet(n) {
			return criu.Options{}, fmt.Errorf("--%s: not supported by hull's %s", n, c.Command.Name)
		}
	}
	o := criu.Options{
		ImagesDir: c.String("image-path"), WorkDir: c.String("work-path"),
		TCPEstablished: c.Bool("tcp-established"), ExtUnixSk: c.Bool("ext-unix-sk"),
		ShellJob: c.Bool("shell-job"), FileLocks: c.Bool("file-locks"), AutoDedup: c.Bool("auto-dedup"),
		ManageCgroupsMode: c.String("manage-cgroups-mode"),
	}
	if err := criu.CheckManageCgroupsMode(o.ManageCgroupsMode); err != nil {
		return o, err
	}
	// hull always has criu leave the network namespace's contents out,
	// as runc does: network is the one value, and it changes nothing.
	switch ns := c.String("empty-ns"); ns {
	case "", "network":
	default:
		return o, fmt.Errorf("--empty-ns %q: only network is supported", ns)
	}
	if o.ImagesDir == "" {
		o.ImagesDir = "checkpoint" // runc's default, in the current directory
	}
	var err error
	if o.ImagesDir, err = filepath.Abs(o.ImagesDir); err != nil {
		return o, fmt.Errorf("--image-path: %w", err)
	}
	if o.WorkDir != "" {
		if o.WorkDir, err = filepath.Abs(o.WorkDir); err != nil {
			return o, fmt.Errorf("--work-path: %w", err)
		}
	}
	return o, nil
}

// restore makes the container from the image; in the foreground it then
// waits for the init as run does, forwarding signals, and deletes the
// container.
func restore(c *cli.Context) error {
	id, err := requireID(c)
	if err != nil {
		return err
	}
	o, err := criuOptions(c)
	if err != nil {
		return err
	}
	if c.String("console-socket") != "" {
		return fmt.Errorf("--console-socket: restoring a container with a terminal is not supported")
	}
	b, err := oci.LoadBundle(c.String("bundle"))
	if err != nil {
		return err
	}
	var sigs <-chan unix.Signal
	if !c.Bool("detach") {
		if sigs, err = catchSignals(false); err != nil {
			return err
		}
	}
	ctr, err := libcontainer.Restore(libcontainer.RestoreOpts{
		CreateOpts: libcontainer.CreateOpts{Root: c.String("root"), ID: id, Bundle: b,
			SystemdCgroup: c.Bool("systemd-cgroup"), Rootless: isRootless(c)},
		Options: o, CriuPath: criuPath(c),
	})
	if err != nil {
		return err
	}
	defer ctr.Close()
	logWarnings(c, ctr.Warnings)
	if path := c.String("pid-file"); path != "" {
		if err := writePidFile(path, ctr.Init.Pid); err != nil {
			ctr.Delete(true)
			return err
		}
	}
	if c.Bool("detach") {
		return nil
	}
	ctr.Unlock()
	status := waitForwarding(ctr.WaitExit, forwarding{send: func(sig unix.Signal) { ctr.Signal(sig, false) }, orderly: orderlySignal(b.Spec)}, sigs, nil)
	if err := deleteAfterRun(ctr); err != nil {
		return err
	}
	if status != 0 {
		return exitCode(status)
	}
	return nil
}
