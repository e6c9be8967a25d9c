package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Process is the compact message (MsgProcess) the C finisher reads: the
// final process attributes, every one resolved by the parent (program path,
// HOME, capability masks, compiled seccomp), so that C applies them without
// parsing JSON or a spec. Layout, host byte order, no padding: ProcessMagic,
// then the fields in the order of this struct; a slice is a u32 count then
// its elements; a string is a u32 length, its bytes and a NUL.
type Process struct {
	Flags  uint32
	UID    uint32
	GID    uint32
	Umask  uint32
	Groups []uint32 // for setgroups: process.user.gid, then additionalGids
	// Caps are the five capability masks, bit n = capability n.
	Caps    [NumCapSets]uint64
	LastCap uint32 // the running kernel's last capability
	Rlimits []Rlimit
	IOPrio  int32 // ioprio_set value; -1: leave alone
	// Personality is the personality(2) domain; -1: leave alone.
	Personality int64
	PreserveFDs uint32
	FifoFD      int32 // exec.fifo to wait on (the init); -1 for none
	ConsoleFD   int32 // pty slave to make stdio and controlling terminal; -1 for none
	// SeccompFlags and Seccomp are the compiled filter: flags for
	// seccomp(2), the sock_filter array in host layout (8 bytes each).
	SeccompFlags uint32
	Seccomp      []byte
	Program      string // absolute path of the program inside the root
	Cwd          string
	Keyring      string // session keyring to join; "" for none
	Args         []string
	Env          []string
}

// Flags of Process.
const (
	FlagNoNewPrivs   = 1 << iota // prctl(PR_SET_NO_NEW_PRIVS)
	FlagSeccompEarly             // load the filter before dropping privileges (without no_new_privs)
)

// Capability sets in Process.Caps.
const (
	CapBounding = iota
	CapEffective
	CapInheritable
	CapPermitted
	CapAmbient
	NumCapSets
)

// Rlimit is one setrlimit(2) call.
type Rlimit struct {
	Resource   uint32
	Soft, Hard uint64
}

// ProcessMagic starts a Process message ("hXP1"); a new layout gets a new one.
const ProcessMagic = 0x31505868

// Limits the C decoder also enforces.
const (
	maxStrings  = 1 << 16
	maxGroups   = 1 << 16
	maxRlimits  = 64
	bpfInsnSize = 8
	bpfMaxInsns = 4096
)

// Encode lays p out for the C finisher, after checking what C relies on.
func (p *Process) Encode() ([]byte, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	e := binary.NativeEndian
	b := e.AppendUint32(nil, ProcessMagic)
	for _, v := range []uint32{p.Flags, p.UID, p.GID, p.Umask} {
		b = e.AppendUint32(b, v)
	}
	b = e.AppendUint32(b, uint32(len(p.Groups)))
	for _, g := range p.Groups {
		b = e.AppendUint32(b, g)
	}
	for _, c := range p.Caps {
		b = e.AppendUint64(b, c)
	}
	b = e.AppendUint32(b, p.LastCap)
	b = e.AppendUint32(b, uint32(len(p.Rlimits)))
	for _, r := range p.Rlimits {
		b = e.AppendUint32(b, r.Resource)
		b = e.AppendUint64(b, r.Soft)
		b = e.AppendUint64(b, r.Hard)
	}
	b = e.AppendUint32(b, uint32(p.IOPrio))
	b = e.AppendUint64(b, uint64(p.Personality))
	b = e.AppendUint32(b, p.PreserveFDs)
	b = e.AppendUint32(b, uint32(p.FifoFD))
	b = e.AppendUint32(b, uint32(p.ConsoleFD))
	b = e.AppendUint32(b, p.SeccompFlags)
	b = e.AppendUint32(b, uint32(len(p.Seccomp)/bpfInsnSize))
	b = append(b, p.Seccomp...)
	for _, s := range []string{p.Program, p.Cwd, p.Keyring} {
		b = appendString(b, s)
	}
	for _, list := range [][]string{p.Args, p.Env} {
		b = e.AppendUint32(b, uint32(len(list)))
		for _, s := range list {
			b = appendString(b, s)
		}
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.NativeEndian.AppendUint32(b, uint32(len(s)))
	b = append(b, s...)
	return append(b, 0)
}

// check refuses what C could not carry: a NUL inside a string would cut it.
func (p *Process) check() error {
	var errs []error
	for _, f := range []struct {
		name string
		list []string
	}{{"program", []string{p.Program}}, {"cwd", []string{p.Cwd}}, {"keyring", []string{p.Keyring}}, {"args", p.Args}, {"env", p.Env}} {
		if len(f.list) > maxStrings {
			errs = append(errs, fmt.Errorf("%s: %d strings, at most %d", f.name, len(f.list), maxStrings))
		}
		for i, s := range f.list {
			if strings.IndexByte(s, 0) >= 0 {
				errs = append(errs, fmt.Errorf("%s[%d] %q: contains a NUL byte", f.name, i, s))
			}
		}
	}
	if len(p.Args) == 0 || p.Program == "" {
		errs = append(errs, errors.New("no program to execute"))
	}
	if len(p.Groups) > maxGroups {
		errs = append(errs, fmt.Errorf("groups: %d, at most %d", len(p.Groups), maxGroups))
	}
	if len(p.Rlimits) > maxRlimits {
		errs = append(errs, fmt.Errorf("rlimits: %d, at most %d", len(p.Rlimits), maxRlimits))
	}
	if len(p.Seccomp)%bpfInsnSize != 0 || len(p.Seccomp)/bpfInsnSize > bpfMaxInsns {
		errs = append(errs, fmt.Errorf("seccomp: %d bytes is not a BPF program of at most %d instructions", len(p.Seccomp), bpfMaxInsns))
	}
	return errors.Join(errs...)
}

// DecodeProcess is Encode's inverse, for tests and tools; the finisher
// decodes in C (finish.c).
func DecodeProcess(b []byte) (*Process, error) {
	d := decoder{b: b}
	if d.u32() != ProcessMagic {
		return nil, errors.New("not a process message (bad magic)")
	}
	p := &Process{Flags: d.u32(), UID: d.u32(), GID: d.u32(), Umask: d.u32()}
	if n := d.count(maxGroups); n > 0 {
		p.Groups = make([]uint32, n)
		for i := range p.Groups {
			p.Groups[i] = d.u32()
		}
	}
	for i := range p.Caps {
		p.Caps[i] = d.u64()
	}
	p.LastCap = d.u32()
	if n := d.count(maxRlimits); n > 0 {
		p.Rlimits = make([]Rlimit, n)
		for i := range p.Rlimits {
			p.Rlimits[i] = Rlimit{Resource: d.u32(), Soft: d.u64(), Hard: d.u64()}
		}
	}
	p.IOPrio = int32(d.u32())
	p.Personality = int64(d.u64())
	p.PreserveFDs = d.u32()
	p.FifoFD = int32(d.u32())
	p.ConsoleFD = int32(d.u32())
	p.SeccompFlags = d.u32()
	if n := d.count(bpfMaxInsns); n > 0 {
		p.Seccomp = d.bytes(n * bpfInsnSize)
	}
	p.Program, p.Cwd, p.Keyring = d.str(), d.str(), d.str()
	p.Args = d.strs()
	p.Env = d.strs()
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d bytes after the message", len(d.b))
	}
	if d.err != nil {
		return nil, fmt.Errorf("process message: %w", d.err)
	}
	return p, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b) {
		d.err = errors.New("truncated")
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) u32() uint32 {
	if b := d.bytes(4); b != nil {
		return binary.NativeEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.bytes(8); b != nil {
		return binary.NativeEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) count(limit int) int {
	n := d.u32()
	if d.err == nil && int64(n) > int64(limit) {
		d.err = fmt.Errorf("count %d over the limit %d", n, limit)
		return 0
	}
	return int(n)
}

func (d *decoder) str() string {
	n := d.u32()
	b := d.bytes(int(n) + 1)
	if b == nil {
		return ""
	}
	if b[n] != 0 || strings.IndexByte(string(b[:n]), 0) >= 0 {
		d.err = errors.New("string not NUL-terminated or with a NUL inside")
		return ""
	}
	return string(b[:n])
}

func (d *decoder) strs() []string {
	n := d.count(maxStrings)
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.str()
	}
	return out
}
