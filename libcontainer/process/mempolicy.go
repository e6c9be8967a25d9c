package process

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// set_mempolicy(2) modes (linux/mempolicy.h); x/sys lacks the newer ones.
var memPolicyModes = map[specs.MemoryPolicyModeType]uint{
	specs.MpolDefault:            0,
	specs.MpolPreferred:          1,
	specs.MpolBind:               2,
	specs.MpolInterleave:         3,
	specs.MpolLocal:              4,
	specs.MpolPreferredMany:      5,
	specs.MpolWeightedInterleave: 6,
}

var memPolicyFlags = map[specs.MemoryPolicyFlagType]uint{
	specs.MpolFNumaBalancing: unix.MPOL_F_NUMA_BALANCING,
	specs.MpolFRelativeNodes: unix.MPOL_F_RELATIVE_NODES,
	specs.MpolFStaticNodes:   unix.MPOL_F_STATIC_NODES,
}

// maxNumaNodes bounds the node numbers accepted (the kernel's
// MAX_NUMNODES is at most 1024), so a typo cannot allocate a huge mask.
const maxNumaNodes = 1024

// sysNodesPossible lists the NUMA nodes this machine can have.
const sysNodesPossible = "/sys/devices/system/node/possible"

// MemoryPolicyModes and MemoryPolicyFlags are what SetMemoryPolicy knows,
// for `hull features`.
func MemoryPolicyModes() []string {
	return []string{"MPOL_DEFAULT", "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE", "MPOL_PREFERRED", "MPOL_PREFERRED_MANY", "MPOL_LOCAL"}
}

// MemoryPolicyFlags: see MemoryPolicyModes.
func MemoryPolicyFlags() []string {
	return []string{"MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"}
}

// ValidateMemoryPolicy checks linux.memoryPolicy before anything is
// created: a known mode and flags, nodes in the spec's list syntax, nodes
// only where the mode takes them, and (unless MPOL_F_RELATIVE_NODES makes
// them relative) nodes this machine has.
func ValidateMemoryPolicy(p *specs.LinuxMemoryPolicy) error {
	if p == nil {
		return nil
	}
	mode, ok := memPolicyModes[p.Mode]
	if !ok {
		return fmt.Errorf("linux.memoryPolicy.mode: unknown mode %q", p.Mode)
	}
	flags, err := memPolicyFlagBits(p.Flags)
	if err != nil {
		return err
	}
	if flags&unix.MPOL_F_STATIC_NODES != 0 && flags&unix.MPOL_F_RELATIVE_NODES != 0 {
		return errors.New("linux.memoryPolicy.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other")
	}
	nodes, err := ParseNodeList(p.Nodes)
	if err != nil {
		return fmt.Errorf("linux.memoryPolicy.nodes %q: %w", p.Nodes, err)
	}
	switch {
	case (mode == 0 || mode == 4) && (len(nodes) > 0 || flags != 0):
		return fmt.Errorf("linux.memoryPolicy: mode %s takes neither nodes nor flags", p.Mode)
	case mode != 0 && mode != 4 && mode != 1 && len(nodes) == 0:
		return fmt.Errorf("linux.memoryPolicy.nodes: mode %s needs at least one node", p.Mode)
	}
	if flags&unix.MPOL_F_RELATIVE_NODES != 0 || len(nodes) == 0 {
		return nil
	}
	return checkNodesExist(nodes)
}

func memPolicyFlagBits(fl []specs.MemoryPolicyFlagType) (uint, error) {
	var bits uint
	for i, f := range fl {
		b, ok := memPolicyFlags[f]
		if !ok {
			return 0, fmt.Errorf("linux.memoryPolicy.flags[%d]: unknown flag %q", i, f)
		}
		bits |= b
	}
	return bits, nil
}

func checkNodesExist(nodes []int) error {
	data, err := os.ReadFile(sysNodesPossible)
	if err != nil {
		// Kernels without CONFIG_NUMA have no node directory: node 0 only.
		data = []byte("0")
	}
	possible, err := ParseNodeList(strings.TrimSpace(string(data)))
	if err != nil {
		return fmt.Errorf("linux.memoryPolicy.nodes: read %s: %w", sysNodesPossible, err)
	}
	have := map[int]bool{}
	for _, n := range possible {
		have[n] = true
	}
	for _, n := range nodes {
		if !have[n] {
			return fmt.Errorf("linux.memoryPolicy.nodes: NUMA node %d does not exist on this machine (nodes: %s)", n, strings.TrimSpace(string(data)))
		}
	}
	return nil
}

// ParseNodeList parses the "0-3,5,7-8" list syntax (empty means none),
// returning the node numbers in order of appearance.
func ParseNodeList(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var nodes []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := parseNode(lo)
		if err != nil {
			return nil, err
		}
		last := first
		if isRange {
			if last, err = parseNode(hi); err != nil {
				return nil, err
			}
			if last < first {
				return nil, fmt.Errorf("range %q runs backwards", part)
			}
		}
		for n := first; n <= last; n++ {
			nodes = append(nodes, n)
		}
	}
	return nodes, nil
}

func parseNode(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a node number", s)
	}
	if n >= maxNumaNodes {
		return 0, fmt.Errorf("node %d is beyond the kernel's limit of %d nodes", n, maxNumaNodes)
	}
	return n, nil
}

// SetMemoryPolicy applies linux.memoryPolicy to the calling thread with
// set_mempolicy(2). The policy is per thread and survives execve, so the
// caller must be the thread that execs the container's program.
func SetMemoryPolicy(p *specs.LinuxMemoryPolicy) error {
	if p == nil {
		return nil
	}
	if err := ValidateMemoryPolicy(p); err != nil {
		return err
	}
	flags, _ := memPolicyFlagBits(p.Flags)
	nodes, _ := ParseNodeList(p.Nodes)
	mask := make([]uint64, maxNumaNodes/64)
	for _, n := range nodes {
		mask[n/64] |= 1 << (n % 64)
	}
	// The kernel reads maxnode-1 bits of the mask.
	_, _, errno := unix.Syscall(unix.SYS_SET_MEMPOLICY, uintptr(memPolicyModes[p.Mode]|flags),
		uintptr(unsafe.Pointer(&mask[0])), uintptr(len(mask)*64+1))
	if errno != 0 {
		return fmt.Errorf("linux.memoryPolicy: set_mempolicy(%s, nodes %q, flags %v): %w", p.Mode, p.Nodes, p.Flags, errno)
	}
	return nil
}
