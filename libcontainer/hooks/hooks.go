// Package hooks runs OCI lifecycle hooks: each hook gets the container's
// state JSON on stdin, its own args and env, runs in the bundle directory
// (those run in the runtime's namespaces) and is killed at its timeout.
package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/internal/threadslack"
)

// Run runs hooks in order and stops at the first that fails; kind names
// the hook list in errors ("prestart", "createRuntime", ...). For the hooks
// whose failure fails the container (prestart, createRuntime,
// createContainer, startContainer).
func Run(kind string, hooks []specs.Hook, state *specs.State) error {
	return run(kind, hooks, state, true)
}

// RunRuntime runs the hooks a create runs in the runtime's namespaces
// once the container's exist, and a restore once criu has made them:
// prestart, then createRuntime, stopping at the first failure.
func RunRuntime(h *specs.Hooks, state *specs.State) error {
	if h == nil {
		return nil
	}
	//lint:ignore SA1019 deprecated by the spec, still honoured by runtimes
	if err := Run("prestart", h.Prestart, state); err != nil { //nolint:staticcheck // deprecated, still in the spec
		return err
	}
	return Run("createRuntime", h.CreateRuntime, state)
}

// RunAll runs every hook even when some fail and returns all failures: for
// poststart and poststop, where the spec has the runtime only warn and go
// on "as if the hook had succeeded".
func RunAll(kind string, hooks []specs.Hook, state *specs.State) error {
	return run(kind, hooks, state, false)
}

func run(kind string, hooks []specs.Hook, state *specs.State, stopAtFailure bool) error {
	if len(hooks) == 0 {
		return nil
	}
	input, err := json.Marshal(state)
	if err != nil {
		return err
	}
	var errs []error
	dir := ""
	if kind != "createContainer" && kind != "startContainer" { // those run in the container's mount namespace
		dir = workDir(state.Bundle)
	}
	for i, h := range hooks {
		if err := runOne(h, input, dir); err != nil {
			errs = append(errs, fmt.Errorf("hooks.%s[%d] %s: %w", kind, i, h.Path, err))
			if stopAtFailure {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// workDir is where the hooks that run in the runtime's namespaces run:
// the bundle directory, as under runc and crun, which change into it (a
// hook may name files relative to it); the caller's when the bundle is
// gone (a delete after the engine removed it).
func workDir(bundle string) string {
	if st, err := os.Stat(bundle); bundle == "" || err != nil || !st.IsDir() {
		return ""
	}
	return bundle
}

func runOne(h specs.Hook, input []byte, dir string) error {
	ctx := context.Background()
	if h.Timeout != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	} else {
		cmd.Args = []string{h.Path}
	}
	cmd.Dir = dir
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(input)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A hook that forks a daemon holding our pipes open must not hang us.
	cmd.WaitDelay = time.Second
	// Forked with the caller's timer slack, whichever thread runs it: not
	// the 1 ms of the Go runtime's threads (internal/threadslack).
	err := threadslack.WithCallerSlack(cmd.Start)
	if err == nil {
		err = cmd.Wait()
	}
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && out.Len() > 0 {
			return fmt.Errorf("%w: %s", err, bytes.TrimSpace(out.Bytes()))
		}
		return err
	}
	return nil
}
