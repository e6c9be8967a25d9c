package cgroups

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cgroup v2 has no devices files: access is decided by BPF_PROG_TYPE_CGROUP_DEVICE
// programs attached to the cgroup. hull assembles one program from the
// rules, loads it, attaches it next to any old one and then detaches the old,
// so that there is never a moment without a filter.

// bpfInsn is struct bpf_insn: code, dst:4|src:4, off, imm.
type bpfInsn struct {
	code uint8
	regs uint8
	off  int16
	imm  int32
}

func insn(code uint8, dst, src uint8, off int16, imm int32) bpfInsn {
	return bpfInsn{code: code, regs: dst | src<<4, off: off, imm: imm}
}

// Registers the program keeps the request in (r1 is the context pointer
// on entry, then scratch).
const (
	regType   = 2
	regAccess = 3
	regMajor  = 4
	regMinor  = 5
)

// Values of struct bpf_cgroup_dev_ctx: access_type is (access << 16) | type.
const (
	devBlock = 1
	devChar  = 2
	accMknod = 1
	accRead  = 2
	accWrite = 4
	accAll   = accMknod | accRead | accWrite
)

// deviceProgram assembles the filter. Rules are checked last to first and
// the first match decides, so a later rule overrides an earlier one as the
// sequence of writes to v1's devices.allow/deny does; a request no rule
// matches is denied, as runc and crun deny it (a config need not start with
// a deny-all rule; v1 applies its rules from deny-all too). An allow rule
// matches when it grants every access requested, a deny rule when it names
// any of them.
func deviceProgram(rules []specs.LinuxDeviceCgroup) ([]bpfInsn, error) {
	prog := []bpfInsn{
		insn(unix.BPF_LDX|unix.BPF_W|unix.BPF_MEM, regType, 1, 0, 0),
		insn(unix.BPF_ALU|unix.BPF_MOV|unix.BPF_X, regAccess, regType, 0, 0),
		insn(unix.BPF_ALU|unix.BPF_AND|unix.BPF_K, regType, 0, 0, 0xffff),
		insn(unix.BPF_ALU|unix.BPF_RSH|unix.BPF_K, regAccess, 0, 0, 16),
		insn(unix.BPF_LDX|unix.BPF_W|unix.BPF_MEM, regMajor, 1, 4, 0),
		insn(unix.BPF_LDX|unix.BPF_W|unix.BPF_MEM, regMinor, 1, 8, 0),
	}
	for i := len(rules) - 1; i >= 0; i-- {
		block, err := ruleBlock(rules[i])
		if err != nil {
			return nil, fmt.Errorf("linux.resources.devices[%d]: %w", i, err)
		}
		prog = append(prog, block...)
		if len(block) == 2 {
			// The rule matches every request: what precedes it can never
			// decide, and the verifier refuses unreachable code.
			return prog, nil
		}
	}
	return append(prog,
		insn(unix.BPF_ALU64|unix.BPF_MOV|unix.BPF_K, 0, 0, 0, 0),
		insn(unix.BPF_JMP|unix.BPF_EXIT, 0, 0, 0, 0)), nil
}

// ruleBlock is the code for one rule: each test jumps past the block's end
// on a mismatch; falling through all of them returns the rule's verdict.
func ruleBlock(d specs.LinuxDeviceCgroup) ([]bpfInsn, error) {
	if _, err := deviceRule(d); err != nil {
		return nil, err
	}
	var tests []bpfInsn
	switch d.Type {
	case "b":
		tests = append(tests, insn(unix.BPF_JMP|unix.BPF_JNE|unix.BPF_K, regType, 0, 0, devBlock))
	case "c":
		tests = append(tests, insn(unix.BPF_JMP|unix.BPF_JNE|unix.BPF_K, regType, 0, 0, devChar))
	}
	acc := accessBits(d.Access)
	if acc != accAll {
		tests = append(tests, insn(unix.BPF_ALU|unix.BPF_MOV|unix.BPF_X, 1, regAccess, 0, 0))
		if d.Allow {
			tests = append(tests,
				insn(unix.BPF_ALU|unix.BPF_AND|unix.BPF_K, 1, 0, 0, int32(accAll&^acc)),
				insn(unix.BPF_JMP|unix.BPF_JNE|unix.BPF_K, 1, 0, 0, 0))
		} else {
			tests = append(tests,
				insn(unix.BPF_ALU|unix.BPF_AND|unix.BPF_K, 1, 0, 0, int32(acc)),
				insn(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, 1, 0, 0, 0))
		}
	}
	for _, n := range []struct {
		v   *int64
		reg uint8
	}{{d.Major, regMajor}, {d.Minor, regMinor}} {
		if n.v != nil && *n.v != -1 {
			if *n.v > 1<<31-1 {
				return nil, fmt.Errorf("device number %d: too large", *n.v)
			}
			tests = append(tests, insn(unix.BPF_JMP|unix.BPF_JNE|unix.BPF_K, n.reg, 0, 0, int32(*n.v)))
		}
	}
	verdict := int32(0)
	if d.Allow {
		verdict = 1
	}
	block := append(tests,
		insn(unix.BPF_ALU64|unix.BPF_MOV|unix.BPF_K, 0, 0, 0, verdict),
		insn(unix.BPF_JMP|unix.BPF_EXIT, 0, 0, 0, 0))
	for i := range block {
		if block[i].code&0x07 == unix.BPF_JMP && block[i].code&0xf0 != unix.BPF_EXIT {
			block[i].off = int16(len(block) - i - 1)
		}
	}
	return block, nil
}

func accessBits(s string) int {
	if s == "" {
		return accAll
	}
	acc := 0
	for _, c := range s {
		switch c {
		case 'm':
			acc |= accMknod
		case 'r':
			acc |= accRead
		case 'w':
			acc |= accWrite
		}
	}
	return acc
}

func bpf(cmd int, attr unsafe.Pointer, size uintptr) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// bpfProgLoadAttr is the BPF_PROG_LOAD part of union bpf_attr.
type bpfProgLoadAttr struct {
	progType    uint32
	insnCnt     uint32
	insns       uint64
	license     uint64
	logLevel    uint32
	logSize     uint32
	logBuf      uint64
	kernVersion uint32
	progFlags   uint32
	progName    [16]byte
}

// loadDeviceProgram loads prog and returns its fd; a verifier refusal is
// retried with the log on, so the error says why.
func loadDeviceProgram(prog []bpfInsn) (int, error) {
	license := []byte("Apache-2.0\x00")
	attr := bpfProgLoadAttr{
		progType: unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCnt:  uint32(len(prog)),
		insns:    uint64(uintptr(unsafe.Pointer(&prog[0]))),
		license:  uint64(uintptr(unsafe.Pointer(&license[0]))),
	}
	copy(attr.progName[:], "hull_devices")
	fd, err := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if err == nil {
		runtime.KeepAlive(prog)
		runtime.KeepAlive(license)
		return fd, nil
	}
	log := make([]byte, 64<<10)
	attr.logLevel, attr.logSize = 1, uint32(len(log))
	attr.logBuf = uint64(uintptr(unsafe.Pointer(&log[0])))
	fd, err2 := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(prog)
	runtime.KeepAlive(license)
	runtime.KeepAlive(log)
	if err2 == nil {
		return fd, nil
	}
	msg := string(bytes.TrimRight(log, "\x00"))
	return -1, fmt.Errorf("load device filter (BPF_PROG_LOAD): %w: %s", err, msg)
}

// bpfAttachAttr serves BPF_PROG_ATTACH and BPF_PROG_DETACH.
type bpfAttachAttr struct {
	targetFd     uint32
	attachBpfFd  uint32
	attachType   uint32
	attachFlags  uint32
	replaceBpfFd uint32 // with BPF_F_REPLACE: the program to swap out
}

type bpfQueryAttr struct {
	targetFd    uint32
	attachType  uint32
	queryFlags  uint32
	attachFlags uint32
	progIDs     uint64
	progCnt     uint32
	_           uint32
}

// attachedDevicePrograms lists the ids of the device programs attached
// directly to the cgroup open at dirFd.
func attachedDevicePrograms(dirFd int) ([]uint32, error) {
	ids := make([]uint32, 64)
	attr := bpfQueryAttr{
		targetFd:   uint32(dirFd),
		attachType: unix.BPF_CGROUP_DEVICE,
		progIDs:    uint64(uintptr(unsafe.Pointer(&ids[0]))),
		progCnt:    uint32(len(ids)),
	}
	_, err := bpf(unix.BPF_PROG_QUERY, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(ids)
	if err != nil {
		return nil, fmt.Errorf("BPF_PROG_QUERY: %w", err)
	}
	return ids[:attr.progCnt], nil
}

func detachProgram(dirFd int, id uint32) error {
	idAttr := struct{ id, nextID, openFlags uint32 }{id: id}
	progFd, err := bpf(unix.BPF_PROG_GET_FD_BY_ID, unsafe.Pointer(&idAttr), unsafe.Sizeof(idAttr))
	if errors.Is(err, unix.ENOENT) {
		return nil // gone meanwhile
	}
	if err != nil {
		return fmt.Errorf("BPF_PROG_GET_FD_BY_ID %d: %w", id, err)
	}
	defer unix.Close(progFd)
	attr := bpfAttachAttr{targetFd: uint32(dirFd), attachBpfFd: uint32(progFd), attachType: unix.BPF_CGROUP_DEVICE}
	if _, err := bpf(unix.BPF_PROG_DETACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("BPF_PROG_DETACH %d: %w", id, err)
	}
	return nil
}

// setDevicesV2 replaces the cgroup's device filter with one built from rules.
// With one filter attached (hull's own, from an earlier create into the same
// cgroup; `update` leaves device rules alone, as runc's) the kernel swaps it
// for the new one in one step (BPF_F_REPLACE), so no access is ever checked
// against neither or both.
func setDevicesV2(dir string, rules []specs.LinuxDeviceCgroup) error {
	prog, err := deviceProgram(rules)
	if err != nil {
		return err
	}
	progFd, err := loadDeviceProgram(prog)
	if err != nil {
		return fmt.Errorf("linux.resources.devices: %w", err)
	}
	defer unix.Close(progFd)
	dirFd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("linux.resources.devices: open %s: %w", dir, err)
	}
	defer unix.Close(dirFd)
	old, err := attachedDevicePrograms(dirFd)
	if err != nil {
		return fmt.Errorf("linux.resources.devices: %s: %w", dir, err)
	}
	if len(old) == 1 {
		err := replaceProgram(dirFd, progFd, old[0])
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("linux.resources.devices: replace the device filter of %s: %w", dir, err)
		}
		// Detached meanwhile, or attached without ALLOW_MULTI: attach
		// next to it and detach it.
	}
	attr := bpfAttachAttr{
		targetFd:    uint32(dirFd),
		attachBpfFd: uint32(progFd),
		attachType:  unix.BPF_CGROUP_DEVICE,
		attachFlags: unix.BPF_F_ALLOW_MULTI,
	}
	if _, err := bpf(unix.BPF_PROG_ATTACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err != nil {
		return fmt.Errorf("linux.resources.devices: attach device filter to %s (BPF_PROG_ATTACH): %w", dir, err)
	}
	for _, id := range old {
		if err := detachProgram(dirFd, id); err != nil {
			return fmt.Errorf("linux.resources.devices: replace old filter on %s: %w", dir, err)
		}
	}
	return nil
}

// replaceProgram attaches progFd in the place of the program with id oldID.
func replaceProgram(dirFd, progFd int, oldID uint32) error {
	idAttr := struct{ id, nextID, openFlags uint32 }{id: oldID}
	oldFd, err := bpf(unix.BPF_PROG_GET_FD_BY_ID, unsafe.Pointer(&idAttr), unsafe.Sizeof(idAttr))
	if err != nil {
		return fmt.Errorf("BPF_PROG_GET_FD_BY_ID %d: %w", oldID, err)
	}
	defer unix.Close(oldFd)
	attr := bpfAttachAttr{
		targetFd:     uint32(dirFd),
		attachBpfFd:  uint32(progFd),
		attachType:   unix.BPF_CGROUP_DEVICE,
		attachFlags:  unix.BPF_F_ALLOW_MULTI | unix.BPF_F_REPLACE,
		replaceBpfFd: uint32(oldFd),
	}
	if _, err := bpf(unix.BPF_PROG_ATTACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err != nil {
		return fmt.Errorf("BPF_PROG_ATTACH with BPF_F_REPLACE: %w", err)
	}
	return nil
}
