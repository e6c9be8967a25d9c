package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Compile validates c and translates it, through libseccomp, into a
// classic-BPF program plus the seccomp(2) flags to load it with. The
// libseccomp context is released before returning: the Filter is plain data
// that can be marshalled to another process (see MarshalBinary) and loaded
// there without libseccomp.
func Compile(c *specs.LinuxSeccomp) (*Filter, error) {
	sf, notify, err := build(c)
	if err != nil {
		return nil, err
	}
	defer sf.Release()
	prog, err := exportBPF(sf)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp: export BPF: %w", err)
	}
	if wantsEnosysStub(c) {
		prog = append(enosysStub(findLastSyscalls(c)), prog...)
	}
	if len(prog) > bpfMaxInsns {
		return nil, fmt.Errorf("linux.seccomp: %d BPF instructions, more than the kernel's %d", len(prog), bpfMaxInsns)
	}
	return &Filter{prog: prog, flags: loadFlags(c.Flags, notify), notify: notify}, nil
}

// build validates c and fills a libseccomp context with it; the caller
// releases the context. notify reports whether a NOTIFY rule was added.
func build(c *specs.LinuxSeccomp) (sf *libseccomp.ScmpFilter, notify bool, err error) {
	if c == nil {
		return nil, false, errors.New("linux.seccomp: nil section")
	}
	if err := Validate(c); err != nil {
		return nil, false, err
	}
	defAct := toAction(c.DefaultAction, c.DefaultErrnoRet)
	sf, err = libseccomp.NewFilter(defAct)
	if err != nil {
		return nil, false, fmt.Errorf("linux.seccomp.defaultAction %q: create filter: %w", c.DefaultAction, err)
	}
	if err := addArchs(sf, c.Architectures); err != nil {
		sf.Release()
		return nil, false, err
	}
	for i := range c.Syscalls {
		added, err := addSyscall(sf, i, &c.Syscalls[i], defAct)
		if err != nil {
			sf.Release()
			return nil, false, err
		}
		notify = notify || (added && c.Syscalls[i].Action == specs.ActNotify)
	}
	return sf, notify, nil
}

// loadFlags turns the spec's flags into seccomp(2) flags. TSYNC is always
// set: the init is a multi-threaded Go program and every thread must carry
// the filter into exec.
func loadFlags(fl []specs.LinuxSeccompFlag, notify bool) uint {
	flags := uint(unix.SECCOMP_FILTER_FLAG_TSYNC)
	for _, f := range fl {
		flags |= knownFlags[f]
	}
	if notify {
		// The kernel refuses NEW_LISTENER with plain TSYNC because a TSYNC
		// failure returns a TID where the listener fd would go; TSYNC_ESRCH
		// reports that failure as ESRCH instead.
		flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
	} else {
		// WAIT_KILLABLE_RECV only qualifies a listener; the kernel rejects
		// it alone, and without NOTIFY rules it has nothing to change.
		flags &^= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
	}
	return flags
}

func toAction(a specs.LinuxSeccompAction, ret *uint) libseccomp.ScmpAction {
	code := int16(unix.EPERM)
	if ret != nil {
		code = int16(uint16(*ret)) // range checked by Validate; SetReturnCode keeps 16 bits
	}
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return libseccomp.ActKillThread
	case specs.ActKillProcess:
		return libseccomp.ActKillProcess
	case specs.ActTrap:
		return libseccomp.ActTrap
	case specs.ActErrno:
		return libseccomp.ActErrno.SetReturnCode(code)
	case specs.ActTrace:
		return libseccomp.ActTrace.SetReturnCode(code)
	case specs.ActAllow:
		return libseccomp.ActAllow
	case specs.ActLog:
		return libseccomp.ActLog
	case specs.ActNotify:
		return libseccomp.ActNotify
	}
	return libseccomp.ActInvalid
}

func addArchs(sf *libseccomp.ScmpFilter, archs []specs.Arch) error {
	for i, a := range archs {
		sa, err := libseccomp.GetArchFromString(knownArchs[a])
		if err != nil {
			return fmt.Errorf("linux.seccomp.architectures[%d] %q: %w", i, a, err)
		}
		if err := sf.AddArch(sa); err != nil {
			maj, min, mic := libseccomp.GetLibraryVersion()
			return fmt.Errorf("linux.seccomp.architectures[%d] %q: not supported by libseccomp %d.%d.%d: %w", i, a, maj, min, mic, err)
		}
	}
	return nil
}

// addSyscall adds one spec rule. It reports whether any rule was added:
// rules equal to the default action are dropped (libseccomp refuses them,
// and they change nothing), as are names this libseccomp does not know.
func addSyscall(sf *libseccomp.ScmpFilter, i int, s *specs.LinuxSyscall, defAct libseccomp.ScmpAction) (bool, error) {
	act := toAction(s.Action, s.ErrnoRet)
	if act == defAct {
		return false, nil
	}
	condSets, err := conditionSets(i, s.Args)
	if err != nil {
		return false, err
	}
	added := false
	for _, name := range s.Names {
		nr, err := libseccomp.GetSyscallFromName(name)
		if err != nil {
			continue
		}
		for _, conds := range condSets {
			if len(conds) == 0 {
				err = sf.AddRule(nr, act)
			} else {
				err = sf.AddRuleConditional(nr, act, conds)
			}
			if err != nil {
				return false, fmt.Errorf("linux.seccomp.syscalls[%d] %q action %s: add rule: %w", i, name, s.Action, err)
			}
			added = true
		}
	}
	return added, nil
}

// conditionSets returns the condition lists to add one rule each for.
// libseccomp cannot AND two comparisons on the same argument, so — as runc
// does — when an index repeats every condition becomes a rule of its own,
// which makes the conditions OR-ed. Otherwise all are AND-ed in one rule.
func conditionSets(i int, args []specs.LinuxSeccompArg) ([][]libseccomp.ScmpCondition, error) {
	conds := make([]libseccomp.ScmpCondition, 0, len(args))
	seen := map[uint]bool{}
	split := false
	for j, a := range args {
		c, err := toCondition(a)
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp.syscalls[%d].args[%d]: %w", i, j, err)
		}
		split = split || seen[a.Index]
		seen[a.Index] = true
		conds = append(conds, c)
	}
	if !split {
		return [][]libseccomp.ScmpCondition{conds}, nil
	}
	sets := make([][]libseccomp.ScmpCondition, len(conds))
	for j, c := range conds {
		sets[j] = []libseccomp.ScmpCondition{c}
	}
	return sets, nil
}

func toCondition(a specs.LinuxSeccompArg) (libseccomp.ScmpCondition, error) {
	op, ok := compareOp(a.Op)
	if !ok {
		return libseccomp.ScmpCondition{}, fmt.Errorf("unknown operator %q", a.Op)
	}
	if op == libseccomp.CompareMaskedEqual {
		// Spec: value is the mask, valueTwo the datum (libseccomp's order).
		return libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
	}
	return libseccomp.MakeCondition(a.Index, op, a.Value)
}

// exportBPF returns the filter as raw sock_filter instructions. The
// in-memory export needs libseccomp >= 2.6; older versions (Debian 12 has
// 2.5.4) can only write to a file descriptor, so a memfd stands in.
func exportBPF(sf *libseccomp.ScmpFilter) ([]unix.SockFilter, error) {
	raw, err := sf.ExportBPFMem()
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOTSUP) {
		raw, err = exportBPFMemfd(sf)
	}
	if err != nil {
		return nil, err
	}
	return decodeProg(raw, binary.NativeEndian)
}

func exportBPFMemfd(sf *libseccomp.ScmpFilter) ([]byte, error) {
	fd, err := unix.MemfdCreate("hull-seccomp-bpf", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "hull-seccomp-bpf")
	defer f.Close()
	if err := sf.ExportBPF(f); err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("rewind memfd: %w", err)
	}
	return io.ReadAll(f)
}

func compareOp(o specs.LinuxSeccompOperator) (libseccomp.ScmpCompareOp, bool) {
	switch o {
	case specs.OpNotEqual:
		return libseccomp.CompareNotEqual, true
	case specs.OpLessThan:
		return libseccomp.CompareLess, true
	case specs.OpLessEqual:
		return libseccomp.CompareLessOrEqual, true
	case specs.OpEqualTo:
		return libseccomp.CompareEqual, true
	case specs.OpGreaterEqual:
		return libseccomp.CompareGreaterEqual, true
	case specs.OpGreaterThan:
		return libseccomp.CompareGreater, true
	case specs.OpMaskedEqual:
		return libseccomp.CompareMaskedEqual, true
	}
	return libseccomp.CompareInvalid, false
}
