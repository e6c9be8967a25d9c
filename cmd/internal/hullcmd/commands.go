package hullcmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer"
	"github.com/hull-runtime/hull/libcontainer/state"
	"github.com/hull-runtime/hull/oci"
)

func startCommand() *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "start a created container",
		ArgsUsage: "<container-id>",
		Action: func(c *cli.Context) error {
			return withContainer(c, false, func(ctr *libcontainer.Container) error { return ctr.Start() })
		},
	}
}

func stateCommand() *cli.Command {
	return &cli.Command{
		Name:      "state",
		Usage:     "print a container's state as JSON",
		ArgsUsage: "<container-id>",
		Action: func(c *cli.Context) error {
			return withContainer(c, true, func(ctr *libcontainer.Container) error {
				return printJSON(ctr.State())
			})
		},
	}
}

func killCommand() *cli.Command {
	return &cli.Command{
		Name:      "kill",
		Usage:     "send a signal (default TERM, or a booted machine's kill signal) to a container's init",
		ArgsUsage: "<container-id> [signal]",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "signal every process of the container"}},
		Action: func(c *cli.Context) error {
			return withContainer(c, false, func(ctr *libcontainer.Container) error {
				sig, err := killSignal(c.Args().Get(1), ctr.Annotations())
				if err != nil {
					return err
				}
				return ctr.Signal(sig, c.Bool("all"))
			})
		},
	}
}

func deleteCommand() *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete a stopped container (any container with --force)",
		ArgsUsage: "<container-id>",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill the container first if it runs"}},
		Action: func(c *cli.Context) error {
			err := withContainer(c, false, func(ctr *libcontainer.Container) error {
				return ctr.Delete(c.Bool("force"))
			})
			// Engines clean up with delete --force after a failed create, when
			// the container may never have existed; runc succeeds there, and
			// an error would hide the create's real one in their logs.
			if c.Bool("force") && errors.Is(err, state.ErrNotExist) {
				return nil
			}
			return err
		},
	}
}

func listCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list containers",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "select one of: table or json"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "display only container IDs"},
		},
		Action: func(c *cli.Context) error {
			states, err := libcontainer.List(c.String("root"))
			if err != nil {
				return err
			}
			entries := listEntries(c.String("root"), states)
			switch {
			case c.Bool("quiet"):
				for _, e := range entries {
					fmt.Println(e.ID)
				}
			case c.String("format") == "json":
				// One line, and null when there is none, as runc writes it.
				return json.NewEncoder(os.Stdout).Encode(entries)
			case c.String("format") == "table":
				w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
				fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
				for _, e := range entries {
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", e.ID, e.Pid, e.Status, e.Bundle, e.Created.Format(time.RFC3339Nano), e.Owner)
				}
				return w.Flush()
			default:
				return fmt.Errorf("--format %q: invalid format option (select one of: table or json)", c.String("format"))
			}
			return nil
		},
	}
}

// listEntry is one container in `list --format json`: runc's fields, in
// runc's order, which scripts parse.
type listEntry struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

// listEntries shapes states as runc lists them: a stopped container's pid
// is 0, and the owner is the user owning its state directory.
func listEntries(root string, states []oci.State) []listEntry {
	var out []listEntry
	for _, s := range states {
		e := listEntry{
			OCIVersion: s.Version, ID: s.ID, Pid: s.Pid, Status: string(s.Status),
			Bundle: s.Bundle, Rootfs: s.Rootfs, Created: s.Created, Annotations: s.Annotations,
			Owner: stateOwner(filepath.Join(root, s.ID)),
		}
		if s.Status == specs.StateStopped {
			e.Pid = 0
		}
		out = append(out, e)
	}
	return out
}

// stateOwner names the owner of dir, "#UID" when the uid has no name.
func stateOwner(dir string) string {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return ""
	}
	uid := strconv.FormatUint(uint64(st.Uid), 10)
	if u, err := user.LookupId(uid); err == nil {
		return u.Username
	}
	return "#" + uid
}

func specCommand() *cli.Command {
	return &cli.Command{
		Name:  "spec",
		Usage: "write a default config.json into the bundle",
		Flags: []cli.Flag{&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: ".", Usage: "bundle directory"},
			&cli.BoolFlag{Name: "rootless", Usage: "a config for an unprivileged user (as runc spec --rootless)"}},
		Action: func(c *cli.Context) error {
			path := filepath.Join(c.String("bundle"), oci.ConfigFile)
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("%s: already exists", path)
			}
			spec := oci.DefaultSpec()
			if c.Bool("rootless") {
				oci.ToRootless(spec, uint32(os.Geteuid()), uint32(os.Getegid()))
			}
			data, err := json.MarshalIndent(spec, "", "\t")
			if err != nil {
				return err
			}
			return os.WriteFile(path, append(data, '\n'), 0o644)
		},
	}
}

// withContainer runs fn on a locked container; shared locks are for reads.
func withContainer(c *cli.Context, shared bool, fn func(*libcontainer.Container) error) error {
	id, err := requireID(c)
	if err != nil {
		return err
	}
	ctr, err := libcontainer.Load(c.String("root"), id, shared)
	if err != nil {
		return err
	}
	defer ctr.Close()
	err = fn(ctr)
	logWarnings(c, ctr.Warnings)
	// Checked here, not only in debugLog: the status reads /proc, the
	// exec fifo and the freezer, a second time in every command.
	if err == nil && c.Bool("debug") {
		debugLog(c, "%s: container %s (status %s, init pid %d): done", c.Command.Name, id, ctr.Status(), ctr.Init.Pid)
	}
	return err
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writePidFile writes atomically, so a reader never sees an empty file.
func writePidFile(path string, pid int) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("--pid-file %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("--pid-file %s: %w", path, err)
	}
	return nil
}
