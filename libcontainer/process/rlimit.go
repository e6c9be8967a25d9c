// Package process applies the per-process attributes of an OCI spec
// (rlimits, scheduler, I/O priority, personality, CPU affinity, oom score,
// user and umask) to the container init just before it execs.
//
// Scheduler attributes, I/O priority, CPU affinity and personality are
// per-thread in Linux, and execve keeps only the calling thread, so the
// caller must hold runtime.LockOSThread from the first setter until execve.
// Every Validate* function checks config.json values without touching the
// kernel, so hull can reject bad input before creating anything; errors
// name the config.json field and the value.
package process

import (
	"errors"
	"fmt"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var rlimitTypes = map[string]int{
	"RLIMIT_CPU":        unix.RLIMIT_CPU,
	"RLIMIT_FSIZE":      unix.RLIMIT_FSIZE,
	"RLIMIT_DATA":       unix.RLIMIT_DATA,
	"RLIMIT_STACK":      unix.RLIMIT_STACK,
	"RLIMIT_CORE":       unix.RLIMIT_CORE,
	"RLIMIT_RSS":        unix.RLIMIT_RSS,
	"RLIMIT_NPROC":      unix.RLIMIT_NPROC,
	"RLIMIT_NOFILE":     unix.RLIMIT_NOFILE,
	"RLIMIT_MEMLOCK":    unix.RLIMIT_MEMLOCK,
	"RLIMIT_AS":         unix.RLIMIT_AS,
	"RLIMIT_LOCKS":      unix.RLIMIT_LOCKS,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_MSGQUEUE":   unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE":       unix.RLIMIT_NICE,
	"RLIMIT_RTPRIO":     unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME":     unix.RLIMIT_RTTIME,
}

// ParseRlimit maps an rlimit name ("RLIMIT_NOFILE") to its resource number.
func ParseRlimit(name string) (int, bool) {
	r, ok := rlimitTypes[name]
	return r, ok
}

// ValidateRlimits rejects unknown types, duplicated types (the spec requires
// an error) and soft limits above the hard limit (setrlimit would fail).
func ValidateRlimits(rl []specs.POSIXRlimit) error {
	var errs []error
	seen := make(map[string]int)
	for i, r := range rl {
		field := fmt.Sprintf("process.rlimits[%d]", i)
		if _, ok := rlimitTypes[r.Type]; !ok {
			errs = append(errs, fmt.Errorf("%s.type: unknown rlimit %q", field, r.Type))
			continue
		}
		if j, dup := seen[r.Type]; dup {
			errs = append(errs, fmt.Errorf("%s.type: %s duplicates process.rlimits[%d]", field, r.Type, j))
		}
		seen[r.Type] = i
		if r.Soft > r.Hard {
			errs = append(errs, fmt.Errorf("%s: %s soft limit %d exceeds hard limit %d", field, r.Type, r.Soft, r.Hard))
		}
	}
	return errors.Join(errs...)
}

// SetRlimits applies rl to the calling process. Raising a hard limit needs
// CAP_SYS_RESOURCE; without it the error names the rlimit and values (runc
// fails the same way). prlimit through x/sys also updates the NOFILE limit
// the Go runtime would otherwise restore at exec.
func SetRlimits(rl []specs.POSIXRlimit) error {
	if err := ValidateRlimits(rl); err != nil {
		return err
	}
	for _, r := range rl {
		lim := unix.Rlimit{Cur: r.Soft, Max: r.Hard}
		if err := unix.Prlimit(0, rlimitTypes[r.Type], &lim, nil); err != nil {
			return fmt.Errorf("set rlimit %s soft=%d hard=%d: %w", r.Type, r.Soft, r.Hard, err)
		}
	}
	return nil
}
