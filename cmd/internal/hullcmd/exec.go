package hullcmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer"
	"github.com/hull-runtime/hull/libcontainer/console"
	"github.com/hull-runtime/hull/oci"
)

// execFailed is the status of an exec that could not start its program,
// as in runc: the container itself keeps running.
const execFailed = 255

func execCommand() *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "run a process in a running container",
		ArgsUsage: "<container-id> [command [args...]]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "runtime-spec process JSON file"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "do not wait for the process"},
			&cli.StringFlag{Name: "pid-file", Usage: "file to write the process's pid to"},
			&cli.StringFlag{Name: "console-socket", Usage: "unix socket that receives the pty master"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-terminal"},
			&cli.StringFlag{Name: "cwd", Usage: "working directory in the container"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set an environment variable"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "uid[:gid]"},
			&cli.Int64SliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "additional gids"},
			&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability"},
			&cli.BoolFlag{Name: "no-new-privs", Usage: "set no_new_privs"},
			&cli.IntFlag{Name: "preserve-fds", Usage: "pass this many fds, from 3 on"},
			&cli.StringFlag{Name: "apparmor", Usage: "AppArmor profile for the process (default: the container's)"},
			&cli.StringFlag{Name: "process-label", Usage: "SELinux label for the process (refused: hull applies no SELinux labels)"},
			&cli.BoolFlag{Name: "ignore-paused", Usage: "exec even into a paused container"},
			&cli.StringSliceFlag{Name: "cgroup", Usage: "run the process in an (existing) sub-cgroup(s). Format is [<controller>:]<cgroup>."},
			&cli.StringFlag{Name: "pidfd-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the exec process"},
		},
		SkipFlagParsing: false,
		Action:          execAction,
	}
}

// execAction fails as runc's exec does: every error once the id is given
// is "exec failed: ..." with status 255, which callers tell apart from
// the program's own statuses.
func execAction(c *cli.Context) error {
	if _, err := requireID(c); err != nil {
		return err
	}
	err := execContainer(c)
	var code exitCode
	if err == nil || errors.As(err, &code) {
		return err
	}
	log := logTarget{path: c.String("log"), format: c.String("log-format")}
	log.error(fmt.Errorf("exec failed: %w", err))
	return exitCode(execFailed)
}

func execContainer(c *cli.Context) error {
	id, err := requireID(c)
	if err != nil {
		return err
	}
	ctr, err := libcontainer.Load(c.String("root"), id, true)
	if err != nil {
		return err
	}
	// Refused before the process is built from the container's: a status
	// that allows no exec is the answer, not what building found missing.
	if err := ctr.Require(libcontainer.ExecOp(c.Bool("ignore-paused"))); err != nil {
		ctr.Close()
		return err
	}
	spec, err := ctr.FullSpec()
	if err != nil {
		ctr.Close()
		return err
	}
	proc, err := execProcess(c, spec)
	if err != nil {
		ctr.Close()
		return err
	}
	var tty *ttyProxy
	consoleSock, err := execConsole(c, proc, &tty)
	if err != nil {
		ctr.Close()
		return err
	}
	if tty != nil {
		defer tty.Close()
	}
	subCgroups, err := subCgroupPaths(c.StringSlice("cgroup"))
	if err != nil {
		ctr.Close()
		return err
	}
	var sigs <-chan unix.Signal
	if !c.Bool("detach") {
		if sigs, err = catchSignals(tty != nil); err != nil {
			ctr.Close()
			return err
		}
	}
	var stdio *stdioRelay
	if !c.Bool("detach") && tty == nil && !proc.Terminal && needsStdioRelay(spec, proc) {
		if stdio, err = relayStdio(); err != nil {
			ctr.Close()
			return err
		}
		defer stdio.finish()
	}
	p, err := ctr.Exec(libcontainer.ExecOpts{Process: proc, ConsoleSocket: consoleSock, PreserveFDs: c.Int("preserve-fds"), IgnorePaused: c.Bool("ignore-paused"), SubCgroups: subCgroups})
	if consoleSock != nil && tty == nil {
		consoleSock.Close()
	}
	ctr.Close() // exec'd processes must not hold the container's lock
	if err != nil {
		// In the --log file too: containerd's shim reads the reason from
		// there, not from stderr, and reports "unable to retrieve OCI
		// runtime error" without it.
		log := logTarget{path: c.String("log"), format: c.String("log-format")}
		log.error(fmt.Errorf("exec failed: %w", err))
		return exitCode(execFailed)
	}
	debugLog(c, "exec: process %d started in container %s: %q", p.Pid, id, proc.Args)
	if path := c.String("pidfd-socket"); path != "" {
		if err := sendPidfd(path, p, "setns"); err != nil {
			p.Signal(unix.SIGKILL)
			log := logTarget{path: c.String("log"), format: c.String("log-format")}
			log.error(fmt.Errorf("exec failed: %w", err))
			return exitCode(execFailed)
		}
	}
	if path := c.String("pid-file"); path != "" {
		if err := writePidFile(path, p.Pid); err != nil {
			return err
		}
	}
	if tty != nil {
		if err := tty.attach(); err != nil {
			return err
		}
	}
	if c.Bool("detach") {
		return nil
	}
	status := waitForwarding(p.WaitChild, forwarding{send: func(sig unix.Signal) { p.Signal(sig) }}, sigs, tty)
	if tty != nil {
		tty.drain()
	}
	if status != 0 {
		return exitCode(status)
	}
	return nil
}

func execConsole(c *cli.Context, proc *specs.Process, tty **ttyProxy) (*os.File, error) {
	if !proc.Terminal {
		if c.String("console-socket") != "" {
			// As runc: a receiver would wait for a pty that never comes.
			return nil, fmt.Errorf("exec: --console-socket needs --tty (or terminal in --process): there is no pty to send")
		}
		return nil, nil
	}
	if path := c.String("console-socket"); path != "" {
		return console.Dial(path)
	}
	if c.Bool("detach") {
		return nil, fmt.Errorf("exec: --tty with --detach needs --console-socket")
	}
	t, err := newTTYProxy()
	if err != nil {
		return nil, err
	}
	*tty = t
	return t.remote, nil
}

// execProcess builds the process: from --process, or from the container's
// own process with the command line's changes, as runc does.
func execProcess(c *cli.Context, spec *specs.Spec) (*specs.Process, error) {
	if path := c.String("process"); path != "" {
		return processFile(path)
	}
	if spec == nil || spec.Process == nil {
		return nil, fmt.Errorf("container %q: its config has no process to start from (give --process)", c.Args().First())
	}
	p := *spec.Process
	p.Args = c.Args().Tail()
	if len(p.Args) == 0 {
		return nil, fmt.Errorf("exec: no command given (usage: hull exec <container-id> command [args...])")
	}
	env, err := withEnvFlags(p.Env, c.StringSlice("env"))
	if err != nil {
		return nil, err
	}
	p.Env = env
	p.Terminal = c.Bool("tty")
	p.ConsoleSize = nil
	if cwd := c.String("cwd"); cwd != "" {
		if err := checkCwd(cwd); err != nil {
			return nil, fmt.Errorf("--cwd: %w", err)
		}
		p.Cwd = cwd
	}
	if err := userFlags(c, &p.User); err != nil {
		return nil, err
	}
	if caps := c.StringSlice("cap"); len(caps) > 0 {
		p.Capabilities = addCaps(p.Capabilities, caps)
	}
	// As runc: only a flag given, true or false, replaces the container's
	// setting; --no-new-privs=false lifts it for this process.
	if c.IsSet("no-new-privs") {
		p.NoNewPrivileges = c.Bool("no-new-privs")
	}
	// As runc: the container's own unless the flag names another; checked
	// (and refused where AppArmor is off) with the rest of the process.
	if profile := c.String("apparmor"); profile != "" {
		p.ApparmorProfile = profile
	}
	if label := c.String("process-label"); label != "" {
		p.SelinuxLabel = label
	}
	return &p, nil
}

// processFile reads --process's process JSON, refusing what runc refuses
// before anything starts: no args, a cwd that is not absolute, ids out of
// range.
func processFile(path string) (*specs.Process, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--process %s: %w", path, err)
	}
	var p specs.Process
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("--process %s: invalid JSON: %w", path, err)
	}
	if len(p.Args) == 0 {
		return nil, fmt.Errorf("--process %s: args: empty", path)
	}
	if err := checkCwd(p.Cwd); err != nil {
		return nil, fmt.Errorf("--process %s: %w", path, err)
	}
	if err := checkUserIDs(p.User); err != nil {
		return nil, fmt.Errorf("--process %s: %w", path, err)
	}
	return &p, nil
}

// checkCwd holds an exec'd process's cwd to the rule create holds
// process.cwd to, oci.Validate's: an absolute path (runc: "Cwd must be an
// absolute path"), else it would resolve against wherever the process
// happened to start. The config checked is valid but for the cwd, so an
// error is about the cwd alone.
func checkCwd(cwd string) error {
	return oci.Validate(&specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: "rootfs"},
		Process: &specs.Process{Args: []string{"true"}, Cwd: cwd},
	})
}

// maxID is the largest uid or gid runc accepts (its libcontainer/user
// package's range): it refuses the rest, negative ones included, rather
// than let them wrap to another id as uint32.
const maxID = 1<<31 - 1

var errIDRange = fmt.Errorf("uids and gids must be in range 0-%d", maxID)

// userFlags applies --user and --additional-gids to u. Only the ids
// given change, as in runc: the config's gid (when --user names none),
// umask and additionalGids stay; the flags' gids are added to the latter.
func userFlags(c *cli.Context, u *specs.User) error {
	if s := c.String("user"); s != "" {
		user, err := parseUser(s)
		if err != nil {
			return err
		}
		u.UID = user.UID
		if strings.Contains(s, ":") {
			u.GID = user.GID
		}
	}
	u.AdditionalGids = slices.Clone(u.AdditionalGids) // the config's stays as it was
	for _, g := range c.Int64Slice("additional-gids") {
		gid, err := checkGid(g)
		if err != nil {
			return fmt.Errorf("--additional-gids %d: %w", g, err)
		}
		u.AdditionalGids = append(u.AdditionalGids, gid)
	}
	return nil
}

// checkGid refuses an --additional-gids value runc refuses: a negative
// one in its own words, a too large one in its user package's.
func checkGid(g int64) (uint32, error) {
	if g < 0 {
		return 0, errors.New("additional-gids must be a positive number")
	}
	if g > maxID {
		return 0, errIDRange
	}
	return uint32(g), nil
}

func parseUser(s string) (specs.User, error) {
	uidStr, gidStr, hasGid := strings.Cut(s, ":")
	uid, err := parseID(uidStr)
	if err != nil {
		return specs.User{}, fmt.Errorf("--user %q: uid: %w", s, err)
	}
	u := specs.User{UID: uid}
	if hasGid {
		if u.GID, err = parseID(gidStr); err != nil {
			return specs.User{}, fmt.Errorf("--user %q: gid: %w", s, err)
		}
	}
	return u, nil
}

// parseID reads a uid or gid of --user: a decimal number in runc's range.
func parseID(s string) (uint32, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, errIDRange
	}
	if err != nil {
		return 0, fmt.Errorf("want uid[:gid] as numbers: %w", err)
	}
	if n < 0 || n > maxID {
		return 0, errIDRange
	}
	return uint32(n), nil
}

// checkUserIDs refuses the ids of a --process file that runc refuses.
func checkUserIDs(u specs.User) error {
	if u.UID > maxID {
		return fmt.Errorf("process.user.uid %d: %w", u.UID, errIDRange)
	}
	if u.GID > maxID {
		return fmt.Errorf("process.user.gid %d: %w", u.GID, errIDRange)
	}
	for i, g := range u.AdditionalGids {
		if g > maxID {
			return fmt.Errorf("process.user.additionalGids[%d] %d: %w", i, g, errIDRange)
		}
	}
	return nil
}

// withEnvFlags sets each --env KEY=value in env, replacing the value of
// an existing KEY in place and appending a new one, as runc does: execve's
// consumers read the first KEY=, so appending would leave the container's
// value in force.
func withEnvFlags(env, flags []string) ([]string, error) {
	out := slices.Clone(env)
	for _, kv := range flags {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--env %q: want KEY=value", kv)
		}
		if i := slices.IndexFunc(out, func(e string) bool { return strings.HasPrefix(e, k+"=") }); i >= 0 {
			out[i] = kv
		} else {
			out = append(out, kv)
		}
	}
	return out, nil
}

// addCaps adds --cap's capabilities to the bounding, effective,
// permitted and ambient sets, as runc 1.1.5 does: ambient so that a
// non-root user keeps them across execve (the kernel raises only those
// also inheritable, which the config decides). Not to the inheritable set:
// runc stopped that in 1.1.2 (CVE-2022-29162).
func addCaps(c *specs.LinuxCapabilities, caps []string) *specs.LinuxCapabilities {
	out := &specs.LinuxCapabilities{}
	if c != nil {
		*out = *c
	}
	names := make([]string, 0, len(caps))
	for _, name := range caps {
		name = strings.ToUpper(name)
		if !strings.HasPrefix(name, "CAP_") {
			name = "CAP_" + name
		}
		names = append(names, name)
	}
	// Onto copies: appending in place could write into the config's arrays.
	out.Bounding = append(slices.Clone(out.Bounding), names...)
	out.Effective = append(slices.Clone(out.Effective), names...)
	out.Permitted = append(slices.Clone(out.Permitted), names...)
	out.Ambient = append(slices.Clone(out.Ambient), names...)
	return out
}

// subCgroupPaths reads exec --cgroup arguments as runc does: one path
// (for every hierarchy; the only form on cgroup v2), or one or more
// controller[,controller...]:path for cgroup v1.
func subCgroupPaths(args []string) (map[string]string, error) {
	if len(args) == 0 {
		return nil, nil
	}
	paths := make(map[string]string, len(args))
	for _, a := range args {
		ctrls, path, ok := strings.Cut(a, ":")
		if !ok {
			if len(args) != 1 {
				return nil, fmt.Errorf("invalid --cgroup argument: %s (missing <controller>: prefix)", a)
			}
			paths[""] = a
			continue
		}
		for _, ctrl := range strings.Split(ctrls, ",") {
			if ctrl == "" {
				return nil, fmt.Errorf("invalid --cgroup argument: %s (empty <controller> prefix)", a)
			}
			if _, dup := paths[ctrl]; dup {
				return nil, fmt.Errorf("invalid --cgroup argument(s): controller %s specified multiple times", ctrl)
			}
			paths[ctrl] = path
		}
	}
	return paths, nil
}
