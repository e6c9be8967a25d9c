package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// outer owns the host-visible resources of the run: it makes the temp dir
// and picks the cgroup parent, runs the measuring child in a new private
// mount namespace, and removes both whatever way the child ended.
func outer(cfg config) int {
	if fi, err := os.Stat(cfg.rootfs); err != nil || !fi.IsDir() {
		fmt.Fprintf(os.Stderr, "bench: -rootfs %q is not a directory (make rootfs)\n", cfg.rootfs)
		return 2
	}
	tmp, err := os.MkdirTemp("", "hull-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: temp dir:", err)
		return 1
	}
	cg := "/" + filepath.Base(tmp)
	defer cleanupHost(tmp, cg)

	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: find own executable:", err)
		return 1
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), envDir+"="+tmp, envCgroup+"="+cg)
	// Go makes / recursively private after unsharing the mount namespace,
	// so nothing mounted in the child propagates back to the host.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGTERM}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "bench: start namespaced child:", err)
		return 1
	}
	// A terminal's Ctrl-C reaches the child too; forwarding covers a kill
	// aimed at this process alone. The child cleans up and exits either way.
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode()
	case err != nil:
		fmt.Fprintln(os.Stderr, "bench: child:", err)
		return 1
	}
	return 0
}

// cleanupHost is the last line of defence after the child: it kills and
// removes anything left in the run's cgroups and deletes the temp dir
// (state dirs, bundle, logs; the rootfs lives outside it).
func cleanupHost(tmp, cg string) {
	if dirs := cgroupDirs(cg); len(dirs) > 0 {
		if err := removeCgroupTree(cg); err != nil {
			fmt.Fprintln(os.Stderr, "bench: cleanup:", err)
		}
	}
	if err := os.RemoveAll(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "bench: cleanup:", err)
	}
}

// inner runs in the private mount namespace and does the measuring.
func inner(cfg config, tmp, cg string) int {
	if cg == "" || !strings.HasPrefix(cg, "/hull-bench-") {
		fmt.Fprintf(os.Stderr, "bench: refusing cgroup parent %q\n", cg)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	defer stop()
	// Container inits outlive the runtime that created them; as subreaper
	// the bench inherits and reaps them instead of leaving them to pid 1.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "bench: set child subreaper:", err)
		return 1
	}
	mode := cgroupMode()
	hide, fix, err := crunHideFile(cfg, tmp)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	b, err := prepare(ctx, cfg, tmp, cg, hide)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer b.cleanup()
	b.cgroupMode, b.crunFix = mode, fix
	b.writeHeader(os.Stdout)
	b.measure(ctx)
	b.reportLeaks(os.Stdout)
	b.report(os.Stdout)
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "bench: interrupted; results above are partial")
		return 130
	}
	return 0
}

// measure runs every chosen case in every chosen regime, one table per
// regime, then each case measured once (floor, boot) in a table of its own.
func (b *bench) measure(ctx context.Context) {
	var perRegime []benchCase
	for _, c := range allCases() {
		if !c.once && b.cfg.wantCase(c.name) {
			perRegime = append(perRegime, c)
		}
	}
	for _, rg := range b.cfg.regimeList() {
		if len(perRegime) == 0 {
			break // -cases boot: no regime tables
		}
		b.startTable(rg, false)
		for _, c := range perRegime {
			if ctx.Err() == nil {
				b.runCase(ctx, c)
			}
		}
	}
	for _, c := range allCases() {
		if c.once && b.cfg.wantCase(c.name) && ctx.Err() == nil {
			b.startTable(regime{name: c.name, title: c.name + " (measured once, not per regime)"}, c.machines)
			if c.after != nil {
				b.tables[len(b.tables)-1].after = func(w io.Writer) { c.after(b, w) }
			}
			b.runCase(ctx, c)
		}
	}
}

// crunHideFile makes the empty file the launcher binds over the hybrid
// host's cgroup2 controllers for crun's commands alone (see launch.c):
// crun 1.8 refuses a hybrid host whose cgroup2 has controllers, also with
// --cgroup-manager=disabled. hull and runc see the host as it is.
func crunHideFile(cfg config, tmp string) (hide, note string, err error) {
	ctl, err := os.ReadFile(unifiedControllers)
	if err != nil || strings.TrimSpace(string(ctl)) == "" {
		return "", "none needed (no hybrid cgroup2 controllers)", nil
	}
	if cfg.noCrunFix {
		return "", "off (-no-crun-cgroup-fix): crun will likely fail in hybrid mode", nil
	}
	empty := filepath.Join(tmp, "empty-controllers")
	if err := os.WriteFile(empty, nil, 0o444); err != nil {
		return "", "", fmt.Errorf("crun cgroup fix: %w", err)
	}
	return empty, fmt.Sprintf("crun's commands only: an empty file bound over %s (was %q) in a mount namespace of each crun command, "+
		"made by the launcher before its clock starts; hull and runc see the host's", unifiedControllers, strings.TrimSpace(string(ctl))), nil
}
