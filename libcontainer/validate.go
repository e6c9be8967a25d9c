package libcontainer

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/libcontainer/capabilities"
	"github.com/hull-runtime/hull/libcontainer/process"
	"github.com/hull-runtime/hull/libcontainer/seccomp"
)

// validateRuntime checks, before anything is created, what only this
// runtime's packages can judge: capability and rlimit names, scheduler,
// I/O priority, personality and seccomp values, and what the command line
// must supply.
func validateRuntime(spec *specs.Spec, o CreateOpts) error {
	proc := spec.Process
	errs := []error{
		capabilities.Validate(proc.Capabilities),
		process.ValidateRlimits(proc.Rlimits),
		process.ValidateScheduler(proc.Scheduler),
		process.ValidateIOPriority(proc.IOPriority),
		process.ValidateOOMScoreAdj(proc.OOMScoreAdj),
		process.ValidateCPUAffinity(proc.ExecCPUAffinity),
	}
	if l := spec.Linux; l != nil {
		errs = append(errs, process.ValidatePersonality(l.Personality))
		if l.Seccomp != nil {
			errs = append(errs, seccomp.Validate(l.Seccomp))
		}
	}
	if proc.Terminal && o.ConsoleSocket == nil {
		errs = append(errs, errors.New("process.terminal is true: --console-socket is required"))
	}
	if o.PreserveFDs < 0 {
		errs = append(errs, errors.New("--preserve-fds: must not be negative"))
	}
	return errors.Join(errs...)
}
