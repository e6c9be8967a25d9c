package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The boot case boots systemd in a Debian 12 image under hull, runc, crun
// and systemd-nspawn. What is measured is the same for all four:
//
//   - boot.ready: from releasing the runtime command (a gate, so that
//     nspawn's cgroup set-up happens before the clock starts) until the
//     bench's NOTIFY_SOCKET receives READY=1. systemd as PID 1 sends
//     READY=1 when its start-up job queue is empty, the moment
//     `systemctl is-system-running` turns from "starting"; each runtime
//     relays it (hull: /run/host/notify of the converted bundle; runc and
//     crun: their own NOTIFY_SOCKET support; nspawn: --notify-ready=yes).
//     Untimed, the bench then checks the state is "running", not
//     "degraded".
//   - boot.halt: from pidfd_send_signal(SIGRTMIN+3) to the container's
//     PID 1 (systemd's poweroff request, what `machinectl poweroff` and
//     the runtimes' kill commands send) until the runtime command exits.
const (
	bootMachine = "hull-bench"
	bootTimeout = 60 * time.Second
	haltTimeout = 30 * time.Second
)

func bootCase() benchCase {
	return benchCase{
		name: "boot",
		desc: "boot systemd (Debian 12) to READY=1 / running, then SIGRTMIN+3 to its PID 1 until the runtime exits; one hull-converted bundle for hull, runc, crun; systemd-nspawn -b on the same image",
		metrics: []metric{
			{Key: "boot.ready", Label: "boot to running (systemd READY=1)", Unit: "ms"},
			{Key: "boot.halt", Label: "shutdown (SIGRTMIN+3 -> runtime exit)", Unit: "ms"},
			{Key: "boot.total", Label: "boot + shutdown", Unit: "ms"},
		},
		// One warm-up boot per runtime: the image's first boot (machine-id
		// commit, journal creation) is slower than the rest.
		warmup:   func(config) int { return 1 },
		iters:    func(c config) int { return c.nboot },
		prepare:  prepareBoot,
		run:      runBoot,
		machines: true,
		once:     true,
	}
}

// bootEnv is what every boot shares: a private copy of the Debian image
// (a boot writes to it: machine-id, journal) and the one bundle that
// `hull convert` made of it, which hull, runc and crun all run.
type bootEnv struct {
	rootfs string  // the copy, booted in place
	bun    *bundle // the converted bundle; its base is the converted config
	cg0    string  // the cgroupsPath it was converted with
	uuid   string  // container uuid of the bundle; nspawn gets the same
	dir    string  // notify sockets and per-boot output logs
}

// prepareBoot makes the image copy and the bundle. A machine without
// debootstrap, a mirror or hull gets a skip reason, not a failure.
func prepareBoot(ctx context.Context, b *bench) (any, string, error) {
	hull := resolveRuntime("hull", b.cfg.paths["hull"])
	if hull.missing != "" {
		return nil, "the bundle is made by hull convert: " + hull.missing, nil
	}
	image, skip, err := debianImage(ctx, b.cfg, b.log)
	if skip != "" || err != nil {
		return nil, skip, err
	}
	e := &bootEnv{dir: filepath.Join(b.tmp, "boot"), cg0: b.cgParent + "/convert"}
	e.rootfs = filepath.Join(e.dir, "rootfs")
	if err := os.MkdirAll(e.dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("boot dir: %w", err)
	}
	// The copy's parent must stay searchable for the container's root.
	if err := os.Chmod(e.dir, 0o755); err != nil {
		return nil, "", fmt.Errorf("boot dir: %w", err)
	}
	if out, err := exec.CommandContext(ctx, "cp", "-a", "--reflink=auto", image, e.rootfs).CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("copy %s to %s: %w: %s", image, e.rootfs, err, strings.TrimSpace(string(out)))
	}
	bundleDir := filepath.Join(e.dir, "bundle")
	args := []string{"convert", "--bundle", bundleDir, "-D", e.rootfs, "-M", bootMachine, "-b", "--console=pipe", "--cgroups-path", e.cg0}
	if out, err := exec.CommandContext(ctx, hull.path, args...).CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("hull %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	if err := e.load(bundleDir); err != nil {
		return nil, "", err
	}
	return e, "", nil
}

// load reads the converted bundle's config and container uuid.
func (e *bootEnv) load(bundleDir string) error {
	raw, err := os.ReadFile(filepath.Join(bundleDir, "config.json"))
	if err != nil {
		return fmt.Errorf("converted bundle: %w", err)
	}
	e.bun = &bundle{dir: bundleDir}
	if err := json.Unmarshal(raw, &e.bun.base); err != nil {
		return fmt.Errorf("converted bundle %s: %w", bundleDir, err)
	}
	if e.bun.base.Process == nil || e.bun.base.Linux == nil || len(e.bun.base.Process.Args) == 0 {
		return fmt.Errorf("converted bundle %s: no process or linux section", bundleDir)
	}
	if e.bun.base.Linux.CgroupsPath != e.cg0 {
		return fmt.Errorf("converted bundle %s: cgroupsPath %q, want %q", bundleDir, e.bun.base.Linux.CgroupsPath, e.cg0)
	}
	id, err := os.ReadFile(filepath.Join(bundleDir, "run-host", "container-uuid"))
	if err != nil {
		return fmt.Errorf("converted bundle: %w", err)
	}
	e.uuid = strings.TrimSpace(string(id))
	return nil
}

// writeConfig points the bundle at the next boot's cgroup. The converted
// config names its cgroupsPath twice: linux.cgroupsPath and, on a v1 host,
// the source of the writable name=systemd bind; both move together.
func (e *bootEnv) writeConfig(cg string) error {
	return e.bun.writeEdited(e.bun.base.Process.Args, cg, func(c *specs.Spec) {
		c.Mounts = retargetCgroupMounts(c.Mounts, e.cg0, cg)
	})
}

// retargetCgroupMounts returns a copy of mounts in which a bind of a
// cgroup directory at oldCg (in any hierarchy) is a bind of newCg.
func retargetCgroupMounts(mounts []specs.Mount, oldCg, newCg string) []specs.Mount {
	out := make([]specs.Mount, len(mounts))
	for i, m := range mounts {
		if strings.HasPrefix(m.Source, "/sys/fs/cgroup/") && strings.HasSuffix(m.Source, oldCg) {
			m.Source = strings.TrimSuffix(m.Source, oldCg) + newCg
		}
		out[i] = m
	}
	return out
}

// debianImage returns the cached Debian image, building it with the
// script when missing or stale; skip says why it cannot be had here.
func debianImage(ctx context.Context, cfg config, log io.Writer) (string, string, error) {
	dir, err := filepath.Abs(cfg.debianRootfs)
	if err != nil {
		return "", "", fmt.Errorf("-debian-rootfs %q: %w", cfg.debianRootfs, err)
	}
	if _, err := os.Stat(cfg.debianScript); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, ".hull-rootfs")); serr == nil {
			return dir, "", nil // built earlier; its script is not here to check it
		}
		return "", fmt.Sprintf("no Debian image at %s and no %s to build it (run from the repository root): %v", dir, cfg.debianScript, err), nil
	}
	fmt.Fprintf(log, "%-7s Debian image %s (built by %s when missing: debootstrap takes minutes)\n", "boot", dir, cfg.debianScript)
	out, err := exec.CommandContext(ctx, "sh", cfg.debianScript, dir).CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			return "", "", ctx.Err()
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 2 {
			return "", "cannot build the Debian image here: " + strings.TrimSpace(string(out)), nil
		}
		return "", fmt.Sprintf("%s %s failed (%v): %s", cfg.debianScript, dir, err, strings.TrimSpace(string(out))), nil
	}
	return dir, "", nil
}

// runBoot boots once, measures, and leaves nothing running.
func runBoot(ctx context.Context, b *bench, rt *runtimeUnderTest, st any) (map[string]float64, error) {
	e := st.(*bootEnv)
	id, cg := rt.nextID(b.cgParent)
	r, err := e.launch(rt, id, cg)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() { r.finish(b, ok) }()
	ready, err := r.untilReady(ctx)
	if err != nil {
		return nil, err
	}
	halt, err := r.shutdown(ctx)
	if err != nil {
		return nil, err
	}
	ok = true
	return map[string]float64{
		"boot.ready": ms(ready),
		"boot.halt":  ms(halt),
		"boot.total": ms(ready + halt),
	}, nil
}
