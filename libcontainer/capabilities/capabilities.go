// Package capabilities turns process.capabilities of an OCI spec into the
// kernel's capability sets of the container init thread.
//
// Unknown names: a name that is not a Linux capability at all ("CAP_FOO") is
// a configuration error. A real capability name the running kernel does not
// know (e.g. CAP_CHECKPOINT_RESTORE on a 5.4 kernel) is skipped and reported
// by Warnings, as the runtime-spec asks runtimes not to fail for capabilities
// that cannot be granted. runc 1.1 warns and skips both kinds ("ignoring
// unknown or unavailable capabilities: [CAP_FOO]"); hull is stricter about
// typos only.
//
// All functions act on the calling OS thread only (capabilities, bounding set
// and keep-caps are per-thread), so the caller must hold
// runtime.LockOSThread from before DropBounding until execve.
package capabilities

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/rawfile"
	"github.com/hull-runtime/hull/oci"
)

// names lists every capability hull knows; the index is the number.
var names = oci.CapabilityNames()

// maxCap bounds cap numbers: the v3 capset ABI carries 64 bits.
const maxCap = 63

// Parse maps a capability name ("CAP_SYS_ADMIN") to its number. Names of
// capabilities newer than hull written as "CAP_<n>" are not accepted: the
// spec only allows the names from capabilities(7).
func Parse(name string) (int, bool) {
	for i, n := range names {
		if n == name {
			return i, true
		}
	}
	return -1, false
}

// Name returns the name of capability c, or "CAP_<c>" if hull does not know it.
func Name(c int) string {
	if c >= 0 && c < len(names) {
		return names[c]
	}
	return "CAP_" + strconv.Itoa(c)
}

// Known returns every capability name hull recognises, in number order; it
// is what hull should report in its features document.
func Known() []string {
	return append([]string(nil), names...)
}

// LastCap returns the highest capability number the running kernel knows.
// It reads /proc/sys/kernel/cap_last_cap and, if /proc is unusable (masked,
// not yet mounted), probes the bounding set with PR_CAPBSET_READ, which fails
// with EINVAL above the last capability.
func LastCap() (int, error) {
	data, err := rawfile.ReadSmall("/proc/sys/kernel/cap_last_cap", 16)
	if err == nil {
		n, perr := strconv.Atoi(strings.TrimSpace(string(data)))
		if perr == nil && n >= 0 && n <= maxCap {
			return n, nil
		}
	}
	for c := 0; c <= maxCap; c++ {
		if _, perr := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); perr != nil {
			if c == 0 {
				return 0, fmt.Errorf("probe capability bounding set: %w", perr)
			}
			return c - 1, nil
		}
	}
	return maxCap, nil
}

// mask is a capability set, bit n = capability n.
type mask uint64

func (m mask) has(c int) bool { return m&(1<<uint(c)) != 0 }

func (m mask) String() string {
	var s []string
	for rest := uint64(m); rest != 0; rest &= rest - 1 {
		s = append(s, Name(bits.TrailingZeros64(rest)))
	}
	return "[" + strings.Join(s, " ") + "]"
}
