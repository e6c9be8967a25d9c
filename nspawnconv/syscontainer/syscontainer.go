// Package syscontainer is what hull's command line knows of system
// containers (a converted nspawn machine, a booted init): the annotations
// the converter writes, each key defined once here, and what the runtime
// does with them (exit statuses, kill signal, sd_notify relay). It is
// small on purpose: the runtime's hot path imports it, not the converter.
package syscontainer

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Prefix prefixes every annotation hull sets where OCI has no field (see
// docs/system-containers.md); other runtimes ignore them.
const Prefix = "org.hull.nspawn."

// The annotation keys. Values are "yes" for flags unless said otherwise.
const (
	AnnotationBoot       = Prefix + "boot"        // "yes": process.args[0] is an init that boots
	AnnotationKillSignal = Prefix + "kill-signal" // default signal of `hull kill ID`
	AnnotationMachine    = Prefix + "machine"     // machine name of a converted bundle
	AnnotationConsole    = Prefix + "console"     // nspawn's --console mode
	// nspawn's own settings, recorded for whoever manages the machine.
	AnnotationVolatile              = Prefix + "volatile"                // --volatile mode
	AnnotationPrivateUsers          = Prefix + "private-users"           // --private-users mode
	AnnotationPrivateUsersOwnership = Prefix + "private-users-ownership" // --private-users-ownership mode
	AnnotationNotifyReady           = Prefix + "notify-ready"
	AnnotationEphemeral             = Prefix + "ephemeral"
	AnnotationAsPID2                = Prefix + "as-pid2"
	AnnotationKeepUnit              = Prefix + "keep-unit"
	AnnotationRegister              = Prefix + "register" // "true" or "false"
)

// Exit statuses nspawn uses for a booted machine.
const (
	ExitPoweroff = 0
	ExitReboot   = 133
)

// Booted reports whether the bundle boots an init system.
func Booted(spec *specs.Spec) bool {
	return spec != nil && spec.Annotations[AnnotationBoot] == "yes"
}

// SystemExitStatus maps a booted init's end to nspawn's exit status. An
// init of a pid namespace that calls reboot(2) is killed by the kernel:
// SIGINT for halt/poweroff (shell status 130), SIGHUP for restart (129).
// Other statuses, and every status of a non-booted container, pass through.
func SystemExitStatus(spec *specs.Spec, status int) int {
	if !Booted(spec) {
		return status
	}
	switch status {
	case 128 + int(unix.SIGINT):
		return ExitPoweroff
	case 128 + int(unix.SIGHUP):
		return ExitReboot
	}
	return status
}

// DefaultKillSignal is the signal name `hull kill ID` sends when none is
// given: the machine's kill signal (SIGRTMIN+3 for a booted systemd, its
// "halt"), else "" for the usual SIGTERM.
func DefaultKillSignal(spec *specs.Spec) string {
	if spec == nil {
		return ""
	}
	return spec.Annotations[AnnotationKillSignal]
}

// NotifySocketPath finds where on the host the container's $NOTIFY_SOCKET
// lives: the environment names a path inside, and a bind mount of a host
// directory (a converted bundle's /run/host) covers it. "" when the
// container is not a converted machine or the socket is not reachable
// from the host.
func NotifySocketPath(spec *specs.Spec, bundleDir string) string {
	if spec == nil || spec.Process == nil || spec.Annotations[AnnotationMachine] == "" {
		return ""
	}
	var inside string
	for _, e := range spec.Process.Env {
		if v, ok := strings.CutPrefix(e, "NOTIFY_SOCKET="); ok {
			inside = v
		}
	}
	if !path.IsAbs(inside) {
		return "" // abstract sockets (@…) live in the container's network namespace
	}
	best, host := "", ""
	for _, m := range spec.Mounts {
		if m.Type != "bind" && !slices.Contains(m.Options, "bind") && !slices.Contains(m.Options, "rbind") {
			continue
		}
		dst := path.Clean(m.Destination)
		rel, ok := strings.CutPrefix(inside, dst+"/")
		if !ok || len(dst) <= len(best) {
			continue
		}
		src := m.Source
		if !filepath.IsAbs(src) {
			src = filepath.Join(bundleDir, src)
		}
		best, host = dst, filepath.Join(src, rel)
	}
	return host
}

// NotifyRelay receives sd_notify datagrams from a container's init and
// passes them to hull's own $NOTIFY_SOCKET (the service manager that
// started hull), the way nspawn relays READY=1 for --notify-ready.
type NotifyRelay struct {
	conn    *net.UnixConn
	path    string
	forward string // hull's own NOTIFY_SOCKET, "" = none
	ready   chan struct{}
	once    sync.Once
	done    chan struct{}
}

// NewNotifyRelay binds the socket at hostPath (replacing a stale one) and
// starts relaying. forward may be "".
func NewNotifyRelay(hostPath, forward string) (*NotifyRelay, error) {
	if err := os.Remove(hostPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("notify socket %s: %w", hostPath, err)
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: hostPath, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("notify socket %s: %w", hostPath, err)
	}
	// The container's root may be a mapped uid: anyone inside may notify.
	if err := os.Chmod(hostPath, 0o777); err != nil {
		conn.Close()
		return nil, fmt.Errorf("notify socket %s: %w", hostPath, err)
	}
	r := &NotifyRelay{conn: conn, path: hostPath, forward: forward, ready: make(chan struct{}), done: make(chan struct{})}
	go r.loop()
	return r, nil
}

// Ready is closed when the container's init sent READY=1.
func (r *NotifyRelay) Ready() <-chan struct{} { return r.ready }

func (r *NotifyRelay) loop() {
	defer close(r.done)
	buf := make([]byte, 4096)
	for {
		n, err := r.conn.Read(buf)
		if err != nil {
			return // closed
		}
		var out []string
		for _, line := range strings.Split(string(buf[:n]), "\n") {
			switch {
			case line == "READY=1":
				r.once.Do(func() { close(r.ready) })
				out = append(out, line)
			case strings.HasPrefix(line, "STATUS="), line == "STOPPING=1", line == "RELOADING=1":
				out = append(out, line)
			}
		}
		if r.forward != "" && len(out) > 0 {
			sendNotify(r.forward, strings.Join(out, "\n"))
		}
	}
}

// sendNotify is sd_notify: one datagram, best effort (a manager that went
// away must not stop the container). Go maps a leading "@" to the
// abstract namespace itself.
func sendNotify(socket, msg string) {
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return
	}
	defer c.Close()
	c.Write([]byte(msg)) //nolint:errcheck // best effort, see above
}

// Close stops relaying and removes the socket.
func (r *NotifyRelay) Close() {
	r.conn.Close()
	<-r.done
	os.Remove(r.path)
}
