package main

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// launchSource is the C program every measured runtime command goes
// through; launcher/launch.c says why (the runtime's true peak RSS).
//
//go:embed launcher/launch.c
var launchSource []byte

// buildLauncher compiles the launcher into dir, statically where the C
// library allows it (a static binary maps no shared libraries, so the
// runtime it spawns starts from the smallest address space).
func buildLauncher(ctx context.Context, dir string) (string, error) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		return "", fmt.Errorf("a C compiler is needed to build the bench's launcher (launcher/launch.c): %w", err)
	}
	src := filepath.Join(dir, "launch.c")
	if err := os.WriteFile(src, launchSource, 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", src, err)
	}
	bin := filepath.Join(dir, "launch")
	var errs []string
	for _, extra := range [][]string{{"-static"}, nil} {
		args := append([]string{"-O2", "-o", bin, src}, extra...)
		out, err := exec.CommandContext(ctx, cc, args...).CombinedOutput()
		if err == nil {
			return bin, nil
		}
		errs = append(errs, fmt.Sprintf("cc %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out))))
	}
	return "", fmt.Errorf("build the launcher: %s", strings.Join(errs, "; "))
}

// launchArgs is the launcher's command line for one runtime command.
func launchArgs(resultFD string, pause time.Duration, hide string, argv []string) []string {
	if hide == "" {
		hide = "-"
	}
	return append([]string{resultFD, strconv.FormatInt(pause.Microseconds(), 10), hide}, argv...)
}

// usage is what the launcher reported about one runtime command.
type usage struct {
	wall          time.Duration
	cpu           time.Duration // user+sys of the runtime and its waited-for children
	maxRSS        int64         // KiB, the largest of those processes' peaks
	faults        int64         // minor+major page faults
	ctxSwitches   int64         // voluntary+involuntary
	status        int
	majorFaults   int64
	involuntaryCS int64
}

// parseUsage reads the launcher's result line.
func parseUsage(line []byte) (usage, error) {
	f := strings.Fields(string(bytes.TrimSpace(line)))
	if len(f) != 9 {
		return usage{}, fmt.Errorf("launcher result %q: want 9 fields", line)
	}
	var v [9]int64
	for i, s := range f {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return usage{}, fmt.Errorf("launcher result %q: field %d: %w", line, i+1, err)
		}
		v[i] = n
	}
	return usage{
		wall:          time.Duration(v[0]),
		cpu:           time.Duration(v[1]+v[2]) * time.Microsecond,
		maxRSS:        v[3],
		faults:        v[4] + v[5],
		majorFaults:   v[5],
		ctxSwitches:   v[6] + v[7],
		involuntaryCS: v[7],
		status:        int(v[8]),
	}, nil
}
