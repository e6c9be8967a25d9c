package cgroups

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// dbusTimeout bounds each conversation with systemd.
const dbusTimeout = 30 * time.Second

// helperLife is how long the placeholder process keeps an empty scope
// alive waiting for the container's init to join.
const helperLife = 60 * time.Second

// connectSystemd prefers systemd's private socket (root, no dbus-daemon
// needed) and falls back to the system bus. The connection is closed when
// ctx ends.
func connectSystemd(ctx context.Context) (*sdbus.Conn, error) {
	conn, err := sdbus.NewSystemdConnectionContext(ctx)
	if err == nil {
		return conn, nil
	}
	conn, err2 := sdbus.NewSystemConnectionContext(ctx)
	if err2 != nil {
		return nil, fmt.Errorf("connect to systemd: private socket: %v; system bus: %w", err, err2)
	}
	return conn, nil
}

// startScopeHelper starts the process a new scope is created around.
// systemd refuses a scope without processes and stops one that empties,
// but hull's init joins the cgroup itself, after Create returns, by writing
// into ProcsFiles. So a placeholder holds the scope until another process is
// in it: it waits on a pipe that watchHelper closes once the init has
// joined, or that closes by itself when hull exits.
func startScopeHelper() (*exec.Cmd, func(), error) {
	cmd := exec.Command("/bin/sh", "-c", "read _")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start scope placeholder /bin/sh: %w", err)
	}
	release := func() {
		in.Close()
		_ = cmd.Wait()
	}
	return cmd, release, nil
}

// watchHelper releases the placeholder once the scope's cgroup holds any
// other process, or after helperLife.
func watchHelper(dir string, helper int, release func()) {
	defer release()
	deadline := time.Now().Add(helperLife)
	for time.Now().Before(deadline) {
		pids, err := readProcs(dir)
		if err != nil {
			return // scope gone
		}
		for _, p := range pids {
			if p != helper {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (m *systemdManager) Create() error {
	r := m.v2.resources
	if err := validateV2(r); err != nil {
		return err
	}
	helper, release, err := startScopeHelper()
	if err != nil {
		return err
	}
	desc := "hull container " + strings.TrimSuffix(m.unit, ".scope")
	props, err := scopeProperties(systemdUnit{m.slice, m.unit}, desc, helper.Process.Pid, r)
	if err == nil {
		err = m.startUnit(props)
	}
	if err != nil {
		_ = helper.Process.Kill()
		release()
		return err
	}
	if err := m.v2.apply(r, false, nil); err != nil {
		_ = helper.Process.Kill()
		release()
		_ = m.Destroy()
		return fmt.Errorf("create scope %s: %w", m.unit, err)
	}
	go watchHelper(m.v2.dir, helper.Process.Pid, release)
	return nil
}

func (m *systemdManager) startUnit(props []sdbus.Property) error {
	ctx, cancel := context.WithTimeout(context.Background(), dbusTimeout)
	defer cancel()
	conn, err := m.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	done := make(chan string, 1)
	if _, err := conn.StartTransientUnitContext(ctx, m.unit, "fail", props, done); err != nil {
		return fmt.Errorf("start scope %s in %s: %w", m.unit, m.slice, err)
	}
	select {
	case res := <-done:
		if res != "done" {
			return fmt.Errorf("start scope %s in %s: job %s", m.unit, m.slice, res)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("start scope %s: %w", m.unit, ctx.Err())
	}
}

// Set updates systemd's properties first, so that a later daemon-reload
// re-applies the new values, then writes the files.
func (m *systemdManager) Set(r *specs.LinuxResources) error {
	if err := validateV2(r); err != nil {
		return err
	}
	var period uint64
	if cur, err := readFile(m.v2.dir, "cpu.max"); err == nil {
		if f := strings.Fields(cur); len(f) == 2 {
			period, _ = strconv.ParseUint(f[1], 10, 64)
		}
	}
	props, err := resourceProperties(r, period)
	if err != nil {
		return err
	}
	if len(props) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), dbusTimeout)
		defer cancel()
		conn, err := m.connect(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		if err := conn.SetUnitPropertiesContext(ctx, m.unit, true, props...); err != nil {
			return fmt.Errorf("set properties of %s: %w", m.unit, err)
		}
	}
	return m.v2.apply(r, true, nil)
}

// Destroy stops the scope (systemd removes its cgroup, delegated subtree
// included) and removes whatever is left. A scope that is already gone is
// success.
func (m *systemdManager) Destroy() error {
	ctx, cancel := context.WithTimeout(context.Background(), dbusTimeout)
	defer cancel()
	conn, err := m.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	done := make(chan string, 1)
	_, err = conn.StopUnitContext(ctx, m.unit, "replace", done)
	if err != nil && !isNoSuchUnit(err) {
		return fmt.Errorf("stop scope %s: %w", m.unit, err)
	}
	if err == nil {
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("stop scope %s: %w", m.unit, ctx.Err())
		}
	}
	// A scope whose processes were killed may be left "failed", which
	// would make a new container of the same name fail to start.
	_ = conn.ResetFailedUnitContext(ctx, m.unit)
	return removeCgroupDir(m.v2.dir)
}

func isNoSuchUnit(err error) bool {
	var de godbus.Error
	if errors.As(err, &de) {
		return de.Name == "org.freedesktop.systemd1.NoSuchUnit"
	}
	var dep *godbus.Error
	return errors.As(err, &dep) && dep.Name == "org.freedesktop.systemd1.NoSuchUnit"
}
