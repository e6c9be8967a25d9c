package process

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hull-runtime/hull/libcontainer/procfs"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ioprio_set(2) encoding, from linux/ioprio.h (not exported by x/sys).
const (
	ioprioWhoProcess = 1
	ioprioClassShift = 13
)

var ioprioClasses = map[specs.IOPriorityClass]int{
	specs.IOPRIO_CLASS_RT:   1,
	specs.IOPRIO_CLASS_BE:   2,
	specs.IOPRIO_CLASS_IDLE: 3,
}

// ValidateIOPriority checks process.ioPriority.
func ValidateIOPriority(p *specs.LinuxIOPriority) error {
	if p == nil {
		return nil
	}
	var errs []error
	if _, ok := ioprioClasses[p.Class]; !ok {
		errs = append(errs, fmt.Errorf("process.ioPriority.class: unknown class %q", p.Class))
	}
	if p.Priority < 0 || p.Priority > 7 {
		errs = append(errs, fmt.Errorf("process.ioPriority.priority: %d out of range [0, 7]", p.Priority))
	}
	return errors.Join(errs...)
}

// IOPrioValue returns the ioprio_set(2) value for p.
func IOPrioValue(p *specs.LinuxIOPriority) (int, error) {
	if err := ValidateIOPriority(p); err != nil {
		return 0, err
	}
	return ioprioClasses[p.Class]<<ioprioClassShift | p.Priority, nil
}

// SetIOPriority applies p to the calling thread; children and the exec'd
// program inherit it.
func SetIOPriority(p *specs.LinuxIOPriority) error {
	if p == nil {
		return nil
	}
	v, err := IOPrioValue(p)
	if err != nil {
		return err
	}
	if _, _, e := unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, 0, uintptr(v)); e != 0 {
		return fmt.Errorf("ioprio_set class=%s priority=%d: %w", p.Class, p.Priority, e)
	}
	return nil
}

// personality(2) execution domains from linux/personality.h.
var personalityDomains = map[specs.LinuxPersonalityDomain]uintptr{
	specs.PerLinux:   0x0000,
	specs.PerLinux32: 0x0008,
}

// ValidatePersonality checks linux.personality. runtime-spec v1.3.0 defines
// no personality flags ("Currently no flag values are supported"), so every
// flag is rejected rather than guessed at; several personality flags
// (READ_IMPLIES_EXEC, MMAP_PAGE_ZERO) weaken security.
func ValidatePersonality(p *specs.LinuxPersonality) error {
	if p == nil {
		return nil
	}
	var errs []error
	if _, ok := personalityDomains[p.Domain]; !ok {
		errs = append(errs, fmt.Errorf("linux.personality.domain: unknown domain %q", p.Domain))
	}
	for i, f := range p.Flags {
		errs = append(errs, fmt.Errorf("linux.personality.flags[%d]: unsupported flag %q", i, f))
	}
	return errors.Join(errs...)
}

// SetPersonality sets the execution domain of the calling thread; the
// exec'd program inherits it.
func SetPersonality(p *specs.LinuxPersonality) error {
	if p == nil {
		return nil
	}
	if err := ValidatePersonality(p); err != nil {
		return err
	}
	if _, _, e := unix.Syscall(unix.SYS_PERSONALITY, personalityDomains[p.Domain], 0, 0); e != 0 {
		return fmt.Errorf("personality %s: %w", p.Domain, e)
	}
	return nil
}

// SetOOMScoreAdj writes v to /proc/self/oom_score_adj through the verified
// procfs handle h. Lowering the value needs CAP_SYS_RESOURCE.
func SetOOMScoreAdj(h *procfs.Handle, v int) error {
	if err := ValidateOOMScoreAdj(&v); err != nil {
		return err
	}
	if err := h.WriteFile("self/oom_score_adj", []byte(strconv.Itoa(v))); err != nil {
		return fmt.Errorf("process.oomScoreAdj %d: %w", v, err)
	}
	return nil
}

// ValidateOOMScoreAdj checks process.oomScoreAdj against the kernel's range.
func ValidateOOMScoreAdj(v *int) error {
	if v != nil && (*v < -1000 || *v > 1000) {
		return fmt.Errorf("process.oomScoreAdj: %d out of range [-1000, 1000]", *v)
	}
	return nil
}

// ParseCPUList parses a Linux CPU list such as "0-3,7" (the format of
// execCPUAffinity and cpuset.cpus). Blanks around elements are allowed.
func ParseCPUList(s string) (*unix.CPUSet, error) {
	set := new(unix.CPUSet)
	maxCPU := len(set) * 64
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty CPU list")
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.ParseUint(lo, 10, 32)
		b := a
		if err == nil && isRange {
			b, err = strconv.ParseUint(hi, 10, 32)
		}
		switch {
		case err != nil:
			return nil, fmt.Errorf("CPU list %q: bad element %q", s, part)
		case a > b:
			return nil, fmt.Errorf("CPU list %q: range %q is reversed", s, part)
		case b >= uint64(maxCPU):
			return nil, fmt.Errorf("CPU list %q: CPU %d exceeds the maximum %d", s, b, maxCPU-1)
		}
		for c := a; c <= b; c++ {
			set.Set(int(c))
		}
	}
	return set, nil
}

// ValidateCPUAffinity checks process.execCPUAffinity.
func ValidateCPUAffinity(a *specs.CPUAffinity) error {
	if a == nil {
		return nil
	}
	var errs []error
	for _, f := range []struct{ name, v string }{{"initial", a.Initial}, {"final", a.Final}} {
		if f.v == "" {
			continue
		}
		if _, err := ParseCPUList(f.v); err != nil {
			errs = append(errs, fmt.Errorf("process.execCPUAffinity.%s: %w", f.name, err))
		}
	}
	return errors.Join(errs...)
}

// SetCPUAffinity pins the calling thread (and so the exec'd program and its
// children) to cpus. An empty list leaves the affinity alone, as the spec
// asks for an omitted execCPUAffinity.final.
func SetCPUAffinity(cpus string) error {
	if cpus == "" {
		return nil
	}
	set, err := ParseCPUList(cpus)
	if err != nil {
		return err
	}
	if err := unix.SchedSetaffinity(0, set); err != nil {
		return fmt.Errorf("set CPU affinity %q: %w", cpus, err)
	}
	return nil
}

// PersonalityValue is the personality(2) argument for p.
func PersonalityValue(p *specs.LinuxPersonality) (uintptr, error) {
	if err := ValidatePersonality(p); err != nil {
		return 0, err
	}
	return personalityDomains[p.Domain], nil
}
