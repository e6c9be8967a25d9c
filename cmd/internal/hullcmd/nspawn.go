package hullcmd

import (
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/console"
	"github.com/hull-runtime/hull/nspawnconv/syscontainer"
	"github.com/hull-runtime/hull/oci"
)

// RunMachine is `hull run` with nspawn's console modes and escape, for
// `hull nspawn` (cmd/hull-nspawn).
func RunMachine(c *cli.Context, id string, b *oci.Bundle) (int, error) {
	return runContainer(c, runPlan{
		id: id, bundle: b,
		tty:         b.Spec.Process.Terminal,
		consoleMode: b.Spec.Annotations[syscontainer.AnnotationConsole],
		escape:      true,
		relay:       true,
	})
}

// notifyRelay is a *syscontainer.NotifyRelay that may be absent.
type notifyRelay struct{ r *syscontainer.NotifyRelay }

func (n notifyRelay) Close() {
	if n.r != nil {
		n.r.Close()
	}
}

// startNotifyRelay listens on a converted machine's /run/host/notify from
// the host side and passes READY=1 on to hull's own $NOTIFY_SOCKET.
func startNotifyRelay(b *oci.Bundle) (notifyRelay, error) {
	p := syscontainer.NotifySocketPath(b.Spec, b.Dir)
	if p == "" {
		return notifyRelay{}, nil
	}
	r, err := syscontainer.NewNotifyRelay(p, os.Getenv("NOTIFY_SOCKET"))
	return notifyRelay{r}, err
}

// killSignal is `hull kill`'s signal: the one given, else a booted
// machine's own kill signal (nspawn's KillSignal=, SIGRTMIN+3 for
// systemd), else SIGTERM.
func killSignal(name string, annotations map[string]string) (unix.Signal, error) {
	if name == "" {
		name = annotations[syscontainer.AnnotationKillSignal]
	}
	if name == "" {
		return unix.SIGTERM, nil
	}
	return oci.ParseSignal(name)
}

// attachConsole connects the machine's pty as nspawn's --console mode says:
// interactive = both ways (ttyProxy.attach), read-only = output only,
// passive = held open but not connected.
func attachConsole(t *ttyProxy, mode string) error {
	if mode != "read-only" && mode != "passive" {
		return t.attach()
	}
	t.remote.Close()
	master, err := console.RecvFd(t.local)
	if err != nil {
		return err
	}
	t.master = master
	if mode == "passive" {
		return nil
	}
	t.holdPeer()
	t.copied.Add(1)
	go func() {
		defer t.copied.Done()
		io.Copy(os.Stdout, master) //nolint:errcheck // EIO when the last slave closes
	}()
	return nil
}
