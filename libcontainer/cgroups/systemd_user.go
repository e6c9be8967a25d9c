package cgroups

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
)

// Rootless --systemd-cgroup: the scope is made by the caller's own systemd
// (the user manager of a lingering or logged-in user), as runc and crun do,
// in the subtree systemd delegated to it (user@UID.service: Delegate=pids
// memory cpu on Debian 12).

// newUserSystemd asks the user manager where its units live (its
// ControlGroup), so that the scope's directory is known before it exists.
func newUserSystemd(root string, c Config) (*systemdManager, error) {
	uid, err := hostUID()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), dbusTimeout)
	defer cancel()
	conn, err := connectUserSystemd(ctx, uid)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	p, err := conn.GetManagerProperty("ControlGroup")
	if err != nil {
		return nil, fmt.Errorf("--systemd-cgroup (rootless): the user manager's ControlGroup: %w", err)
	}
	base, err := strconv.Unquote(p)
	if err != nil || !strings.HasPrefix(base, "/") {
		return nil, fmt.Errorf("--systemd-cgroup (rootless): the user manager's ControlGroup is %s, want a cgroup path", p)
	}
	m, err := newSystemdAt(root, base, c)
	if err != nil {
		return nil, err
	}
	m.user = uid
	return m, nil
}

// hostUID is the caller's uid on the host: its euid through the uid_map of
// its user namespace (rootless podman runs hull as uid 0 of one).
func hostUID() (int, error) {
	euid := os.Geteuid()
	f, err := os.Open("/proc/self/uid_map")
	if err != nil {
		return 0, fmt.Errorf("host uid: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var in, out, n int
		if _, err := fmt.Sscan(sc.Text(), &in, &out, &n); err == nil && euid >= in && euid-in < n {
			return out + euid - in, nil
		}
	}
	return 0, fmt.Errorf("host uid: euid %d is not in /proc/self/uid_map", euid)
}

// connectUserSystemd talks to uid's user manager: through its private
// socket (no bus daemon needed) or else the user bus. Both authenticate
// with the host uid, which is what the manager sees as the peer's.
func connectUserSystemd(ctx context.Context, uid int) (*sdbus.Conn, error) {
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		dir = fmt.Sprintf("/run/user/%d", uid)
	}
	bus := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	if bus == "" {
		bus = "unix:path=" + filepath.Join(dir, "bus")
	}
	var errs []error
	for _, a := range []struct {
		addr  string
		hello bool
	}{{"unix:path=" + filepath.Join(dir, "systemd/private"), false}, {bus, true}} {
		conn, err := sdbus.NewConnection(func() (*godbus.Conn, error) { return dialUserBus(ctx, a.addr, uid, a.hello) })
		if err == nil {
			return conn, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", a.addr, err))
	}
	return nil, fmt.Errorf("--systemd-cgroup (rootless): no user manager of uid %d to talk to (is a user session running? `loginctl enable-linger` starts one): %w", uid, errors.Join(errs...))
}

func dialUserBus(ctx context.Context, addr string, uid int, hello bool) (*godbus.Conn, error) {
	conn, err := godbus.Dial(addr, godbus.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	if err := conn.Auth([]godbus.Auth{godbus.AuthExternal(strconv.Itoa(uid))}); err != nil {
		conn.Close()
		return nil, err
	}
	if hello {
		if err := conn.Hello(); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return conn, nil
}

// connect talks to the manager that holds the scope.
func (m *systemdManager) connect(ctx context.Context) (*sdbus.Conn, error) {
	if m.user != 0 {
		return connectUserSystemd(ctx, m.user)
	}
	return connectSystemd(ctx)
}

// Apply moves pid into the scope. Rootless, a process outside the user
// manager's subtree cannot be moved in by its owner (cgroup v2 wants write
// access to the common ancestor); the user manager then moves it, asking
// PID 1 when it cannot either, as for systemd-run --user --scope.
func (m *systemdManager) Apply(pid int) error {
	err := m.v2.Apply(pid)
	if err == nil || m.user == 0 || !errors.Is(err, fs.ErrPermission) {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), dbusTimeout)
	defer cancel()
	conn, cerr := m.connect(ctx)
	if cerr != nil {
		return errors.Join(err, cerr)
	}
	defer conn.Close()
	if aerr := conn.AttachProcessesToUnit(ctx, m.unit, "/", []uint32{uint32(pid)}); aerr != nil {
		return errors.Join(err, fmt.Errorf("attach through the user manager: %w", aerr))
	}
	return nil
}
