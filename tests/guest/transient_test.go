package guest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
)

// startScope asks systemd over D-Bus for a transient scope holding pid, with
// Delegate=yes, and waits for the job to finish.
func startScope(ctx context.Context, conn *sdbus.Conn, unit string, pid int) error {
	props := []sdbus.Property{
		sdbus.PropDescription("hull guest probe"),
		sdbus.PropPids(uint32(pid)),
		{Name: "Delegate", Value: godbus.MakeVariant(true)},
	}
	done := make(chan string, 1)
	if _, err := conn.StartTransientUnitContext(ctx, unit, "replace", props, done); err != nil {
		return fmt.Errorf("StartTransientUnit %s: %w", unit, err)
	}
	select {
	case res := <-done:
		if res != "done" {
			return fmt.Errorf("StartTransientUnit %s: job %s", unit, res)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("StartTransientUnit %s: %w", unit, ctx.Err())
	}
}

// TestStartTransientUnitDelegate: a Delegate=yes scope made over D-Bus
// gives the caller a cgroup subtree it may split and enable controllers in,
// which is what hull's systemd driver does with a container's cgroup.
func TestStartTransientUnitDelegate(t *testing.T) {
	inGuest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := sdbus.NewSystemConnectionContext(ctx)
	if err != nil {
		t.Fatalf("connect to systemd over D-Bus: %v", err)
	}
	defer conn.Close()

	sleeper := exec.Command("sleep", "300")
	if err := sleeper.Start(); err != nil {
		t.Fatalf("start sleep: %v", err)
	}
	t.Cleanup(func() {
		_ = sleeper.Process.Kill()
		_ = sleeper.Wait()
	})
	unit := randomName(t, "hull-probe-") + ".scope"
	if err := startScope(ctx, conn, unit, sleeper.Process.Pid); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopped := make(chan string, 1)
		if _, err := conn.StopUnitContext(context.Background(), unit, "replace", stopped); err == nil {
			<-stopped
		}
	})

	cg, err := ownCgroup(sleeper.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(cg, "/"+unit) {
		t.Fatalf("sleep is in %s, want the scope %s", cg, unit)
	}
	delegate, err := conn.GetUnitTypePropertyContext(ctx, unit, "Scope", "Delegate")
	if err != nil {
		t.Fatalf("read Delegate of %s: %v", unit, err)
	}
	if v, ok := delegate.Value.Value().(bool); !ok || !v {
		t.Fatalf("%s has Delegate=%v, want true", unit, delegate.Value)
	}
	splitDelegatedScope(t, filepath.Join(cgroupRoot, cg), sleeper.Process.Pid)
}

// splitDelegatedScope moves pid into a leaf of the scope's cgroup and
// enables the scope's controllers for its children, as a delegate may.
func splitDelegatedScope(t *testing.T, dir string, pid int) {
	t.Helper()
	leaf := filepath.Join(dir, "leaf")
	if err := os.Mkdir(leaf, 0o755); err != nil {
		t.Fatalf("mkdir %s in the delegated scope: %v", leaf, err)
	}
	if err := os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte(fmt.Sprint(pid)), 0); err != nil {
		t.Fatalf("move pid %d into %s: %v", pid, leaf, err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		t.Fatalf("read controllers of %s: %v", dir, err)
	}
	ctrls := strings.Fields(string(data))
	for _, want := range []string{"memory", "pids", "cpu"} {
		if !contains(ctrls, want) {
			t.Fatalf("delegated scope %s lacks controller %s (has %q)", dir, want, ctrls)
		}
	}
	enable := "+" + strings.Join(ctrls, " +")
	if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(enable), 0); err != nil {
		t.Fatalf("write %q to %s/cgroup.subtree_control: %v", enable, dir, err)
	}
	if err := os.WriteFile(filepath.Join(leaf, "pids.max"), []byte("16"), 0); err != nil {
		t.Fatalf("set pids.max in %s: %v", leaf, err)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
