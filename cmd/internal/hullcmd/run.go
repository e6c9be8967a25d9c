package hullcmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer"
	"github.com/hull-runtime/hull/libcontainer/console"
	"github.com/hull-runtime/hull/libcontainer/state"
	"github.com/hull-runtime/hull/oci"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "create and start a container, wait for it and delete it",
		ArgsUsage: "<container-id>",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return once the container started"},
			&cli.BoolFlag{Name: "keep", Usage: "keep the container's state after it exits"},
			&cli.BoolFlag{Name: "no-subreaper", Usage: "disable the use of the subreaper used to reap reparented processes"},
		}, createFlags()...),
		Action: run,
	}
}

func run(c *cli.Context) error {
	id, err := requireID(c)
	if err != nil {
		return err
	}
	b, err := oci.LoadBundle(c.String("bundle"))
	if err != nil {
		return err
	}
	detach := c.Bool("detach")
	status, err := runContainer(c, runPlan{
		id: id, bundle: b,
		// A terminal with nobody to take the pty: hull takes it and
		// proxies between the pty and its own stdio.
		tty:    b.Spec.Process.Terminal && c.String("console-socket") == "" && !detach,
		relay:  !detach,
		detach: detach, keep: c.Bool("keep"),
		// As runc's run: the container's orphans come to hull.
		subreaper: !detach && !c.Bool("no-subreaper"),
	})
	if err != nil {
		return err
	}
	if status != 0 {
		return exitCode(status)
	}
	return nil
}

// deleteAfterRun deletes the container run started, unless someone else
// (`hull delete`) already did. It goes on with the container run holds
// rather than load the state file again (see Relock for why that is the
// container's state): a reload cost a state.json read and decode.
func deleteAfterRun(ctr *libcontainer.Container) error {
	err := ctr.Relock()
	if errors.Is(err, state.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return ctr.Delete(true)
}

// ttyProxy receives a container's pty master and copies between it and
// hull's stdio, with hull's terminal in raw mode meanwhile.
type ttyProxy struct {
	local, remote *os.File // socketpair: remote goes to the container's init
	master        *os.File
	peer          *os.File // our own slave end, held while the container runs
	saved         *unix.Termios
	copied        sync.WaitGroup
	// escape, when set, is called on nspawn's escape (Ctrl-] three times
	// within a second) typed on an interactive terminal.
	escape func()
}

func newTTYProxy() (*ttyProxy, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &ttyProxy{local: os.NewFile(uintptr(fds[0]), "console"), remote: os.NewFile(uintptr(fds[1]), "console-remote")}, nil
}

func (t *ttyProxy) attach() error {
	t.remote.Close()
	master, err := console.RecvFd(t.local)
	if err != nil {
		return err
	}
	t.master = master
	t.holdPeer()
	if termios, err := unix.IoctlGetTermios(0, unix.TCGETS); err == nil {
		t.saved = termios
		raw := *termios
		raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		raw.Oflag &^= unix.OPOST
		raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		raw.Cflag &^= unix.CSIZE | unix.PARENB
		raw.Cflag |= unix.CS8
		unix.IoctlSetTermios(0, unix.TCSETS, &raw)
		t.resize()
	}
	var in io.Reader = os.Stdin
	if t.escape != nil && t.saved != nil {
		in = &escapeReader{r: os.Stdin, now: time.Now, onEscape: t.escape}
	}
	go io.Copy(master, in) //nolint:errcheck // ends with hull
	t.copied.Add(1)
	go func() {
		defer t.copied.Done()
		_, err := io.Copy(os.Stdout, master)
		if err != nil && !errors.Is(err, unix.EIO) { // EIO: the last slave closed
			return
		}
	}()
	return nil
}

func (t *ttyProxy) resize() {
	if ws, err := unix.IoctlGetWinsize(0, unix.TIOCGWINSZ); err == nil && t.master != nil {
		unix.IoctlSetWinsize(int(t.master.Fd()), unix.TIOCSWINSZ, ws)
	}
}

// holdPeer opens the pty's slave end through the master and keeps it
// open until drain. A pty master's read fails with EIO whenever no slave is
// open, and the copy to stdout would stop for good at that EIO; a booting
// systemd closes all its descriptors before reopening /dev/console, so
// without our own reference its whole console output was lost.
func (t *ttyProxy) holdPeer() {
	raw, err := t.master.SyscallConn()
	if err != nil {
		return
	}
	var fd uintptr
	var errno unix.Errno
	raw.Control(func(m uintptr) { //nolint:errcheck // Control fails only on a closed file
		fd, _, errno = unix.Syscall(unix.SYS_IOCTL, m, unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	})
	if errno != 0 {
		fmt.Fprintf(os.Stderr, "hull: warning: console: cannot hold the pty open (TIOCGPTPEER: %v): output may stop when the container closes its console\n", errno)
		return
	}
	t.peer = os.NewFile(fd, "console-peer")
}

// drain waits for the container's last output to reach hull's stdout:
// once our slave reference is gone, the copy ends at EIO after the
// buffered output.
func (t *ttyProxy) drain() {
	if t.peer != nil {
		t.peer.Close()
	}
	t.copied.Wait()
}

func (t *ttyProxy) Close() {
	if t.saved != nil {
		unix.IoctlSetTermios(0, unix.TCSETS, t.saved)
	}
	t.local.Close()
	t.remote.Close()
	if t.peer != nil {
		t.peer.Close()
	}
	if t.master != nil {
		t.master.Close()
	}
}
