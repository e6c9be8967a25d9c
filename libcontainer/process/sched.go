package process

import (
	"errors"
	"fmt"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// sched_setattr(2) policy numbers; SCHED_ISO is reserved but not
// implemented by mainline kernels, which reject it with EINVAL.
var schedPolicies = map[specs.LinuxSchedulerPolicy]uint32{
	specs.SchedOther:    0,
	specs.SchedFIFO:     1,
	specs.SchedRR:       2,
	specs.SchedBatch:    3,
	specs.SchedISO:      4,
	specs.SchedIdle:     5,
	specs.SchedDeadline: 6,
}

var schedFlags = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork:  unix.SCHED_FLAG_RESET_ON_FORK,
	specs.SchedFlagReclaim:      unix.SCHED_FLAG_RECLAIM,
	specs.SchedFlagDLOverrun:    unix.SCHED_FLAG_DL_OVERRUN,
	specs.SchedFlagKeepPolicy:   unix.SCHED_FLAG_KEEP_POLICY,
	specs.SchedFlagKeepParams:   unix.SCHED_FLAG_KEEP_PARAMS,
	specs.SchedFlagUtilClampMin: unix.SCHED_FLAG_UTIL_CLAMP_MIN,
	specs.SchedFlagUtilClampMax: unix.SCHED_FLAG_UTIL_CLAMP_MAX,
}

// ValidateScheduler checks process.scheduler the way runc does (priority
// only for the real-time policies, runtime/deadline/period only for
// SCHED_DEADLINE) plus the ranges sched_setattr enforces.
func ValidateScheduler(s *specs.Scheduler) error {
	if s == nil {
		return nil
	}
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if _, ok := schedPolicies[s.Policy]; !ok {
		add("process.scheduler.policy: unknown policy %q", s.Policy)
	}
	for i, f := range s.Flags {
		if _, ok := schedFlags[f]; !ok {
			add("process.scheduler.flags[%d]: unknown flag %q", i, f)
		}
	}
	if s.Nice < -20 || s.Nice > 19 {
		add("process.scheduler.nice: %d out of range [-20, 19]", s.Nice)
	}
	rt := s.Policy == specs.SchedFIFO || s.Policy == specs.SchedRR
	switch {
	case rt && (s.Priority < 1 || s.Priority > 99):
		add("process.scheduler.priority: %d out of range [1, 99] for %s", s.Priority, s.Policy)
	case !rt && s.Priority != 0:
		add("process.scheduler.priority: %d can only be set for SCHED_FIFO or SCHED_RR, not %s", s.Priority, s.Policy)
	}
	dl := s.Runtime != 0 || s.Deadline != 0 || s.Period != 0
	if dl && s.Policy != specs.SchedDeadline {
		add("process.scheduler: runtime/deadline/period can only be set for SCHED_DEADLINE, not %s", s.Policy)
	}
	if s.Policy == specs.SchedDeadline && (s.Runtime > s.Deadline || s.Period != 0 && s.Deadline > s.Period) {
		add("process.scheduler: SCHED_DEADLINE needs runtime (%d) <= deadline (%d) <= period (%d)", s.Runtime, s.Deadline, s.Period)
	}
	return errors.Join(errs...)
}

// SetScheduler applies s to the calling thread with sched_setattr(2).
func SetScheduler(s *specs.Scheduler) error {
	if s == nil {
		return nil
	}
	if err := ValidateScheduler(s); err != nil {
		return err
	}
	attr := unix.SchedAttr{
		Policy:   schedPolicies[s.Policy],
		Nice:     s.Nice,
		Priority: uint32(s.Priority),
		Runtime:  s.Runtime,
		Deadline: s.Deadline,
		Period:   s.Period,
	}
	for _, f := range s.Flags {
		attr.Flags |= schedFlags[f]
	}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		return fmt.Errorf("sched_setattr policy=%s nice=%d priority=%d flags=%v: %w", s.Policy, s.Nice, s.Priority, s.Flags, err)
	}
	return nil
}
