package e2e

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// seccompFilters reads the classic BPF programs of every seccomp filter on
// pid (most recent first) with PTRACE_SECCOMP_GET_FILTER: what the kernel
// really enforces, whoever installed it.
func seccompFilters(pid int) ([][]unix.SockFilter, error) {
	runtime.LockOSThread() // every ptrace request must come from the tracer thread
	defer runtime.UnlockOSThread()
	if err := unix.PtraceSeize(pid); err != nil {
		return nil, fmt.Errorf("ptrace seize %d: %w", pid, err)
	}
	defer unix.PtraceDetach(pid)
	if err := unix.PtraceInterrupt(pid); err != nil {
		return nil, fmt.Errorf("ptrace interrupt %d: %w", pid, err)
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil {
		return nil, fmt.Errorf("wait for %d to stop: %w", pid, err)
	}
	const getFilter = 0x420c // PTRACE_SECCOMP_GET_FILTER
	var out [][]unix.SockFilter
	for i := 0; ; i++ {
		n, _, e := unix.Syscall6(unix.SYS_PTRACE, getFilter, uintptr(pid), uintptr(i), 0, 0, 0)
		if e == unix.ENOENT {
			return out, nil
		}
		if e != 0 {
			return nil, fmt.Errorf("PTRACE_SECCOMP_GET_FILTER %d of %d: %w", i, pid, e)
		}
		prog := make([]unix.SockFilter, n)
		if _, _, e := unix.Syscall6(unix.SYS_PTRACE, getFilter, uintptr(pid), uintptr(i), uintptr(unsafe.Pointer(&prog[0])), 0, 0); e != 0 {
			return nil, fmt.Errorf("PTRACE_SECCOMP_GET_FILTER %d of %d: %w", i, pid, e)
		}
		out = append(out, prog)
	}
}

// seccompData is the struct seccomp_data a filter sees.
type seccompData struct {
	nr   int32
	arch uint32
	args [6]uint64
}

func (d seccompData) bytes() []byte {
	b := make([]byte, 64)
	binary.NativeEndian.PutUint32(b[0:], uint32(d.nr))
	binary.NativeEndian.PutUint32(b[4:], d.arch)
	for i, a := range d.args {
		binary.NativeEndian.PutUint64(b[16+8*i:], a)
	}
	return b
}

// runBPF interprets a classic BPF program over data, as the kernel's
// seccomp does (only the instructions seccomp permits).
func runBPF(prog []unix.SockFilter, data []byte) (uint32, error) {
	var a, x uint32
	var mem [16]uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		k := in.K
		switch in.Code & 0x07 {
		case unix.BPF_LD, unix.BPF_LDX:
			var v uint32
			switch in.Code & 0xe0 {
			case unix.BPF_ABS:
				if int(k)+4 > len(data) {
					return 0, fmt.Errorf("pc %d: load beyond seccomp_data at %d", pc, k)
				}
				v = binary.NativeEndian.Uint32(data[k:])
			case unix.BPF_IMM:
				v = k
			case unix.BPF_MEM:
				v = mem[k&15]
			case unix.BPF_LEN:
				v = uint32(len(data))
			default:
				return 0, fmt.Errorf("pc %d: load mode %#x", pc, in.Code)
			}
			if in.Code&0x07 == unix.BPF_LD {
				a = v
			} else {
				x = v
			}
		case unix.BPF_ST:
			mem[k&15] = a
		case unix.BPF_STX:
			mem[k&15] = x
		case unix.BPF_ALU:
			src := k
			if in.Code&unix.BPF_X != 0 {
				src = x
			}
			var err error
			if a, err = alu(uint32(in.Code&0xf0), a, src); err != nil {
				return 0, fmt.Errorf("pc %d: %w", pc, err)
			}
		case unix.BPF_JMP:
			src := k
			if in.Code&unix.BPF_X != 0 {
				src = x
			}
			var cond bool
			switch in.Code & 0xf0 {
			case unix.BPF_JA:
				pc += int(k)
				continue
			case unix.BPF_JEQ:
				cond = a == src
			case unix.BPF_JGT:
				cond = a > src
			case unix.BPF_JGE:
				cond = a >= src
			case unix.BPF_JSET:
				cond = a&src != 0
			default:
				return 0, fmt.Errorf("pc %d: jump %#x", pc, in.Code)
			}
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET:
			if in.Code&0x18 == unix.BPF_A {
				return a, nil
			}
			return k, nil
		case unix.BPF_MISC:
			if in.Code&0xf8 == unix.BPF_TXA {
				a = x
			} else {
				x = a
			}
		}
	}
	return 0, errors.New("program ran off its end")
}

func alu(op, a, src uint32) (uint32, error) {
	switch op {
	case unix.BPF_ADD:
		return a + src, nil
	case unix.BPF_SUB:
		return a - src, nil
	case unix.BPF_MUL:
		return a * src, nil
	case unix.BPF_DIV, unix.BPF_MOD:
		if src == 0 {
			return 0, errors.New("division by zero")
		}
		if op == unix.BPF_DIV {
			return a / src, nil
		}
		return a % src, nil
	case unix.BPF_OR:
		return a | src, nil
	case unix.BPF_AND:
		return a & src, nil
	case unix.BPF_LSH:
		return a << src, nil
	case unix.BPF_RSH:
		return a >> src, nil
	case unix.BPF_NEG:
		return -a, nil
	case unix.BPF_XOR:
		return a ^ src, nil
	}
	return 0, fmt.Errorf("alu op %#x", op)
}

// seccompDecision is what the kernel does with a call given all filters:
// the highest-precedence action wins (lowest as a signed action value),
// on a tie the most recent filter's.
func seccompDecision(filters [][]unix.SockFilter, d seccompData) (string, error) {
	var best uint32
	for i, f := range filters {
		r, err := runBPF(f, d.bytes())
		if err != nil {
			return "", fmt.Errorf("filter %d: %w", i, err)
		}
		if i == 0 || int32(r&0xffff0000) < int32(best&0xffff0000) {
			best = r
		}
	}
	if len(filters) == 0 {
		return "no filter", nil
	}
	return actionName(best), nil
}

func actionName(r uint32) string {
	switch r & 0xffff0000 {
	case unix.SECCOMP_RET_ALLOW:
		return "allow"
	case unix.SECCOMP_RET_ERRNO:
		return fmt.Sprintf("errno %d", r&0xffff)
	case unix.SECCOMP_RET_KILL_PROCESS:
		return "kill-process"
	case unix.SECCOMP_RET_KILL_THREAD:
		return "kill-thread"
	case unix.SECCOMP_RET_TRAP:
		return "trap"
	case unix.SECCOMP_RET_TRACE:
		return "trace"
	case unix.SECCOMP_RET_LOG:
		return "log"
	case unix.SECCOMP_RET_USER_NOTIF:
		return "notify"
	}
	return fmt.Sprintf("action %#x", r)
}
