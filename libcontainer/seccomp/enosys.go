package seccomp

import (
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// A profile cannot name a syscall newer than itself; with a denying default
// action such a syscall (clone3, faccessat2, openat2 under an older profile)
// would fail with EPERM, and programs that probe for it and fall back on
// ENOSYS then break. As runc does (libcontainer/seccomp/patchbpf), a stub in
// front of the filter returns ENOSYS for every syscall number above the
// highest the profile names, per architecture; numbers the profile knows go
// to the filter unchanged.

// auditArchs maps the spec's architectures to the AUDIT_ARCH_* value the
// kernel puts in seccomp_data.arch. x32 shares x86_64's and sets
// x32SyscallBit in the syscall number.
var auditArchs = map[specs.Arch]uint32{
	specs.ArchX86: unix.AUDIT_ARCH_I386, specs.ArchX86_64: unix.AUDIT_ARCH_X86_64, specs.ArchX32: unix.AUDIT_ARCH_X86_64,
	specs.ArchARM: unix.AUDIT_ARCH_ARM, specs.ArchAARCH64: unix.AUDIT_ARCH_AARCH64,
	specs.ArchMIPS: unix.AUDIT_ARCH_MIPS, specs.ArchMIPS64: unix.AUDIT_ARCH_MIPS64, specs.ArchMIPS64N32: unix.AUDIT_ARCH_MIPS64N32,
	specs.ArchMIPSEL: unix.AUDIT_ARCH_MIPSEL, specs.ArchMIPSEL64: unix.AUDIT_ARCH_MIPSEL64, specs.ArchMIPSEL64N32: unix.AUDIT_ARCH_MIPSEL64N32,
	specs.ArchPPC: unix.AUDIT_ARCH_PPC, specs.ArchPPC64: unix.AUDIT_ARCH_PPC64, specs.ArchPPC64LE: unix.AUDIT_ARCH_PPC64LE,
	specs.ArchS390: unix.AUDIT_ARCH_S390, specs.ArchS390X: unix.AUDIT_ARCH_S390X,
	specs.ArchRISCV64: unix.AUDIT_ARCH_RISCV64, specs.ArchLOONGARCH64: unix.AUDIT_ARCH_LOONGARCH64,
}

const x32SyscallBit = 0x40000000

// lastSyscalls is, per AUDIT_ARCH and ABI (x32 or not), the highest syscall
// number the profile names.
type lastSyscalls map[uint32]map[bool]uint32

// findLastSyscalls resolves every name of every rule, whatever its action,
// for each of the profile's architectures. Without architectures nothing is
// patched, as under runc.
func findLastSyscalls(c *specs.LinuxSeccomp) lastSyscalls {
	out := lastSyscalls{}
	for _, a := range c.Architectures {
		audit, ok := auditArchs[a]
		if !ok {
			continue
		}
		arch, err := libseccomp.GetArchFromString(knownArchs[a])
		if err != nil {
			continue
		}
		x32 := a == specs.ArchX32
		for _, s := range c.Syscalls {
			for _, name := range s.Names {
				nr, err := libseccomp.GetSyscallFromNameByArch(name, arch)
				if err != nil || nr < 0 {
					continue
				}
				if out[audit] == nil {
					out[audit] = map[bool]uint32{}
				}
				if uint32(nr) > out[audit][x32] {
					out[audit][x32] = uint32(nr)
				}
			}
		}
	}
	return out
}

// wantsEnosysStub: runc adds the stub unless the default action already
// lets unknown syscalls through or already answers ENOSYS.
func wantsEnosysStub(c *specs.LinuxSeccomp) bool {
	switch c.DefaultAction {
	case specs.ActAllow, specs.ActLog, specs.ActTrace:
		return false
	case specs.ActErrno:
		return c.DefaultErrnoRet == nil || *c.DefaultErrnoRet != uint(unix.ENOSYS)
	}
	return true
}

// BPF opcodes of the stub.
const (
	ldW  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	jeq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	jgt  = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K
	jset = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	ja   = unix.BPF_JMP | unix.BPF_JA
	ret  = unix.BPF_RET | unix.BPF_K

	offNr   = 0 // seccomp_data.nr
	offArch = 4 // seccomp_data.arch
)

// enosysStub returns the instructions to put in front of the filter: per
// architecture, a syscall number above the last one known returns ENOSYS,
// anything else falls through to the filter (which starts by loading the
// architecture again). nil when there is nothing to patch.
func enosysStub(last lastSyscalls) []unix.SockFilter {
	if len(last) == 0 {
		return nil
	}
	archs := make([]uint32, 0, len(last))
	for a := range last {
		archs = append(archs, a)
	}
	sort.Slice(archs, func(i, j int) bool { return archs[i] < archs[j] })
	// Each block is built with jumps relative to its own end ("out": the
	// filter) and the shared ENOSYS return, then fixed up once all sizes
	// are known. Blocks are tiny, so every offset fits in 8 bits.
	var blocks [][]insn
	for _, a := range archs {
		blocks = append(blocks, archBlock(a, last[a]))
	}
	return link(blocks)
}

// insn is a BPF instruction whose jump targets may be symbolic.
type insn struct {
	code   uint16
	k      uint32
	jt, jf target
}

type target int

const (
	next   target = iota // the following instruction
	enosys               // the ENOSYS return after all blocks
	out                  // the first instruction after the stub: the filter
	skip1                // the instruction after the following one
)

// archBlock: if the architecture is a, check the number; else go on to the
// next block.
func archBlock(a uint32, last map[bool]uint32) []insn {
	native, hasNative := last[false]
	x32, hasX32 := last[true]
	check := func(has bool, max uint32) []insn {
		if !has {
			return []insn{{code: ja, k: 0, jt: out}}
		}
		return []insn{{code: jgt, k: max, jt: enosys, jf: out}}
	}
	body := []insn{{code: ldW, k: offNr}}
	if a == unix.AUDIT_ARCH_X86_64 {
		// x32 numbers carry the x32 bit and would all look "newer".
		nat, x := check(hasNative, native), check(hasX32, x32)
		body = append(body, insn{code: jset, k: x32SyscallBit, jt: skip1, jf: next})
		body = append(body, nat...)
		body = append(body, x...)
	} else {
		body = append(body, check(true, native)...)
	}
	head := insn{code: jeq, k: a, jt: next}
	head.jf = target(-len(body)) // past this block: encoded as a negative skip count
	return append([]insn{head}, body...)
}

// link resolves the symbolic targets and appends the ENOSYS return; the
// caller puts the filter right after.
func link(blocks [][]insn) []unix.SockFilter {
	// A block's body ends in a jump out of the stub, so the architecture,
	// loaded once, is still in the accumulator for every block's test.
	flat := []insn{{code: ldW, k: offArch}}
	for _, b := range blocks {
		flat = append(flat, b...)
	}
	// Layout: ld arch, blocks..., ja out (no architecture matched), ret ENOSYS.
	flat = append(flat, insn{code: ja, jt: out})
	enosysAt := len(flat)
	flat = append(flat, insn{code: ret, k: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)})
	outAt := len(flat)
	resolve := func(i int, t target) uint32 {
		switch {
		case t == next:
			return 0
		case t == skip1:
			return 1
		case t == enosys:
			return uint32(enosysAt - i - 1)
		case t == out:
			return uint32(outAt - i - 1)
		default: // -n: skip the n instructions of the block body
			return uint32(-t)
		}
	}
	prog := make([]unix.SockFilter, len(flat))
	for i, in := range flat {
		f := unix.SockFilter{Code: in.code, K: in.k}
		if in.code == ja {
			f.K = resolve(i, in.jt)
		} else if in.code&0x07 == unix.BPF_JMP {
			f.Jt, f.Jf = uint8(resolve(i, in.jt)), uint8(resolve(i, in.jf))
		}
		prog[i] = f
	}
	return prog
}
