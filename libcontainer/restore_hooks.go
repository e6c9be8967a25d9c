package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/libcontainer/criu"
	"github.com/hull-runtime/hull/libcontainer/hooks"
)

// A restore runs the config's prestart and createRuntime hooks, as runc
// does: once criu has made the restored init and its namespaces (criu's
// setup-namespaces step), with the init's pid in the state, before its
// tasks are restored into them. criu calls an action script at each step
// of a restore, with no arguments and the step in CRTOOLS_SCRIPT_ACTION;
// hull is that script. The restore writes the hooks and the state they get
// to a file in the state directory and names it in EnvRestoreHooks, which
// criu passes on to the script with its own environment.

// EnvRestoreHooks names the restore's hooks file for hull run as criu's
// action script (cmd/internal/hullcmd dispatches on it).
const EnvRestoreHooks = "HULL_RESTORE_HOOKS"

const (
	restoreHooksFile = "restore-hooks.json"
	// restoreHooksBegan is made by the action script before the first
	// hook runs: a restore that fails after it runs the poststop hooks,
	// as a failed create does once its hooks began.
	restoreHooksBegan = "restore-hooks.began"
	// restoreHooksError holds a hook's failure, for the restore's error.
	restoreHooksError = "restore-hooks.err"
	setupNamespaces   = "setup-namespaces"
)

// restoreHooks is the file's content: the state the hooks get, and the
// spec's prestart and createRuntime hooks alone.
type restoreHooks struct {
	State specs.State `json:"state"`
	Hooks specs.Hooks `json:"hooks"`
}

// prepareRestoreHooks writes the hooks file and makes hull r's action
// script; a config without prestart or createRuntime hooks needs neither.
func (c *Container) prepareRestoreHooks(r *criu.Restore, spec *specs.Spec) error {
	h := spec.Hooks
	//lint:ignore SA1019 deprecated by the spec, still honoured by runtimes
	if h == nil || len(h.Prestart)+len(h.CreateRuntime) == 0 { //nolint:staticcheck // deprecated, still in the spec
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("restore hooks: find hull's own binary for criu's action script: %w", err)
	}
	st := specs.State{Version: specs.Version, ID: c.ID, Status: specs.StateCreating, Bundle: c.Bundle,
		Annotations: spec.Annotations}
	//lint:ignore SA1019 deprecated by the spec, still honoured by runtimes
	data, err := json.Marshal(restoreHooks{State: st, Hooks: specs.Hooks{Prestart: h.Prestart, CreateRuntime: h.CreateRuntime}}) //nolint:staticcheck // deprecated, still in the spec
	if err != nil {
		return fmt.Errorf("restore hooks: %w", err)
	}
	// criu's environment reaches the script, not its working directory.
	path, err := filepath.Abs(c.dir.File(restoreHooksFile))
	if err != nil {
		return fmt.Errorf("restore hooks: %w", err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("restore hooks: %w", err)
	}
	r.ActionScript = exe
	r.Env = append(r.Env, EnvRestoreHooks+"="+path)
	return nil
}

// restoreHooksOutcome reads what the action script left: whether the
// hooks began, and a hook's failure.
func (c *Container) restoreHooksOutcome() (began bool, hookErr error) {
	_, err := os.Stat(c.dir.File(restoreHooksBegan))
	began = err == nil
	if msg, err := os.ReadFile(c.dir.File(restoreHooksError)); err == nil && len(msg) > 0 {
		hookErr = errors.New(string(msg))
	}
	return began, hookErr
}

// removeRestoreHooksFiles removes what a restore that went well no longer
// needs; one left behind goes with the state directory.
func (c *Container) removeRestoreHooksFiles() {
	for _, name := range []string{restoreHooksFile, restoreHooksBegan} {
		os.Remove(c.dir.File(name))
	}
}

// RunRestoreHooks is hull as criu's action script for step action: at
// setup-namespaces it runs the prestart and createRuntime hooks of the
// file at path with initPid as the state's pid, and records a failure
// beside the file for the restore to report; other steps do nothing.
func RunRestoreHooks(path, action, initPid string) error {
	if action != setupNamespaces {
		return nil
	}
	err := runRestoreHooks(path, initPid)
	if err != nil {
		// The restore's own error quotes it; failing to keep it leaves
		// criu's "script exited with 1" and hull's stderr.
		_ = os.WriteFile(filepath.Join(filepath.Dir(path), restoreHooksError), []byte(err.Error()), 0o600)
	}
	return err
}

func runRestoreHooks(path, initPid string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("restore hooks: %w", err)
	}
	var h restoreHooks
	if err := json.Unmarshal(data, &h); err != nil {
		return fmt.Errorf("restore hooks: %s: %w", path, err)
	}
	pid, err := strconv.Atoi(initPid)
	if err != nil || pid <= 0 {
		return fmt.Errorf("restore hooks: criu gave no init pid (CRTOOLS_INIT_PID=%q)", initPid)
	}
	h.State.Pid = pid
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), restoreHooksBegan), nil, 0o600); err != nil {
		return fmt.Errorf("restore hooks: %w", err)
	}
	return hooks.RunRuntime(&h.Hooks, &h.State)
}
