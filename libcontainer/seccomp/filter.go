package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// bpfMaxInsns is the kernel's BPF_MAXINSNS for one classic filter.
const bpfMaxInsns = 4096

// Filter is a compiled seccomp program ready for seccomp(2). It holds no
// libseccomp state, so it can be built in the runtime parent, shipped to the
// container init with MarshalBinary/UnmarshalBinary, and loaded there.
type Filter struct {
	prog   []unix.SockFilter
	flags  uint // seccomp(2) SECCOMP_FILTER_FLAG_* bits
	notify bool // some rule uses SCMP_ACT_NOTIFY: Load returns a listener
}

// Instructions is the number of BPF instructions in the program.
func (f *Filter) Instructions() int { return len(f.prog) }

// Notify reports whether Load will return a seccomp user-notification
// listener fd that must be handed to the agent at linux.seccomp.listenerPath.
func (f *Filter) Notify() bool { return f.notify }

// Load installs the filter on every thread of the calling process
// (SECCOMP_FILTER_FLAG_TSYNC). It does not set no_new_privs: the caller
// must either have set it (process.noNewPrivileges) or still hold
// CAP_SYS_ADMIN in its user namespace. Everything the process does after
// Load, exec included, runs under the filter. listenerFd is the new
// user-notification fd (close-on-exec) when Notify() is true, -1 otherwise.
func (f *Filter) Load() (listenerFd int, err error) {
	if f == nil || len(f.prog) == 0 {
		return -1, errors.New("seccomp: load of an empty or released filter")
	}
	prog := unix.SockFprog{Len: uint16(len(f.prog)), Filter: &f.prog[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		uintptr(f.flags), uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(f)
	if errno != 0 {
		err := fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER, flags %#x, %d instructions): %w", f.flags, len(f.prog), errno)
		if errno == unix.EACCES {
			err = fmt.Errorf("%w (neither no_new_privs set nor CAP_SYS_ADMIN held)", err)
		}
		return -1, err
	}
	if f.notify {
		return int(r), nil
	}
	if r != 0 {
		// Plain TSYNC reports the thread that could not be synchronised
		// (it already carries a diverging filter) as a positive return.
		return -1, fmt.Errorf("seccomp: TSYNC failed: thread %d has an incompatible filter", r)
	}
	return -1, nil
}

// Release drops the program. A Filter owns no kernel or libseccomp
// resources (Compile frees the libseccomp context), so this only lets the
// memory go early and makes a later Load fail loudly.
func (f *Filter) Release() {
	if f != nil {
		f.prog = nil
	}
}

// Binary layout: magic, version, flags, notify, count, then count
// instructions of {code u16, jt u8, jf u8, k u32}, all little-endian.
const (
	filterMagic   = "hscf"
	filterVersion = 1
	headerLen     = 4 + 4 + 8 + 4 + 4
	insnLen       = 8
)

// MarshalBinary encodes the filter so the runtime can compile once in the
// parent and send the result to the container init over its sync channel.
func (f *Filter) MarshalBinary() ([]byte, error) {
	if f == nil || len(f.prog) == 0 {
		return nil, errors.New("seccomp: marshal of an empty or released filter")
	}
	b := make([]byte, 0, headerLen+insnLen*len(f.prog))
	b = append(b, filterMagic...)
	b = binary.LittleEndian.AppendUint32(b, filterVersion)
	b = binary.LittleEndian.AppendUint64(b, uint64(f.flags))
	notify := uint32(0)
	if f.notify {
		notify = 1
	}
	b = binary.LittleEndian.AppendUint32(b, notify)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(f.prog)))
	for _, in := range f.prog {
		b = binary.LittleEndian.AppendUint16(b, in.Code)
		b = append(b, in.Jt, in.Jf)
		b = binary.LittleEndian.AppendUint32(b, in.K)
	}
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary produced.
func (f *Filter) UnmarshalBinary(b []byte) error {
	if len(b) < headerLen || string(b[:4]) != filterMagic {
		return errors.New("seccomp: unmarshal: not a hull seccomp filter")
	}
	if v := binary.LittleEndian.Uint32(b[4:]); v != filterVersion {
		return fmt.Errorf("seccomp: unmarshal: version %d, want %d", v, filterVersion)
	}
	flags := binary.LittleEndian.Uint64(b[8:])
	notify := binary.LittleEndian.Uint32(b[16:]) == 1
	n := int(binary.LittleEndian.Uint32(b[20:]))
	prog, err := decodeProg(b[headerLen:], binary.LittleEndian)
	if err != nil {
		return fmt.Errorf("seccomp: unmarshal: %w", err)
	}
	if len(prog) != n {
		return fmt.Errorf("seccomp: unmarshal: header says %d instructions, body has %d", n, len(prog))
	}
	*f = Filter{prog: prog, flags: uint(flags), notify: notify}
	return nil
}

// decodeProg parses struct sock_filter records: libseccomp exports them in
// host byte order, the marshalled form is little-endian.
func decodeProg(raw []byte, order binary.ByteOrder) ([]unix.SockFilter, error) {
	if len(raw) == 0 || len(raw)%insnLen != 0 {
		return nil, fmt.Errorf("BPF program of %d bytes is not a whole number of %d-byte instructions", len(raw), insnLen)
	}
	n := len(raw) / insnLen
	if n > bpfMaxInsns {
		return nil, fmt.Errorf("BPF program has %d instructions, kernel limit is %d", n, bpfMaxInsns)
	}
	prog := make([]unix.SockFilter, n)
	for i := range prog {
		r := raw[i*insnLen:]
		prog[i] = unix.SockFilter{
			Code: order.Uint16(r),
			Jt:   r[2],
			Jf:   r[3],
			K:    order.Uint32(r[4:]),
		}
	}
	return prog, nil
}

// Program returns the seccomp(2) flags and the sock_filter array in host
// layout, for a process that loads the filter itself (the C finisher).
func (f *Filter) Program() (flags uint, prog []byte) {
	prog = make([]byte, 0, insnLen*len(f.prog))
	for _, in := range f.prog {
		prog = binary.NativeEndian.AppendUint16(prog, in.Code)
		prog = append(prog, in.Jt, in.Jf)
		prog = binary.NativeEndian.AppendUint32(prog, in.K)
	}
	return f.flags, prog
}
