package capabilities

import (
	"errors"
	"fmt"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Set holds the five capability sets requested by process.capabilities,
// already resolved against the running kernel.
type Set struct {
	bounding, effective, inheritable, permitted, ambient mask
	lastCap                                              int
	warnings                                             []string
}

type field struct {
	name  string // config.json path, for messages
	names []string
	dst   *mask
}

func (s *Set) fields(c *specs.LinuxCapabilities) []field {
	return []field{
		{"process.capabilities.bounding", c.Bounding, &s.bounding},
		{"process.capabilities.effective", c.Effective, &s.effective},
		{"process.capabilities.inheritable", c.Inheritable, &s.inheritable},
		{"process.capabilities.permitted", c.Permitted, &s.permitted},
		{"process.capabilities.ambient", c.Ambient, &s.ambient},
	}
}

// Validate checks that every name in c is a Linux capability, without
// looking at the running kernel, so hull can reject a typo before creating
// anything. A nil c is valid. The runtime-spec since 1.1 asks for a
// warning instead, and runc and crun warn; runtime-tools' conformance
// program process_capabilities_fail (in hull's gate) requires the error.
func Validate(c *specs.LinuxCapabilities) error {
	if c == nil {
		return nil
	}
	var errs []error
	for _, f := range new(Set).fields(c) {
		for _, n := range f.names {
			if _, ok := Parse(n); !ok {
				errs = append(errs, fmt.Errorf("%s: unknown capability %q", f.name, n))
			}
		}
	}
	return errors.Join(errs...)
}

// New resolves c against the running kernel. A nil c yields empty sets, so
// the process ends up with no capabilities at all, as with runc.
func New(c *specs.LinuxCapabilities) (*Set, error) {
	last, err := LastCap()
	if err != nil {
		return nil, err
	}
	return newSet(c, last)
}

func newSet(c *specs.LinuxCapabilities, last int) (*Set, error) {
	s := &Set{lastCap: last}
	if c == nil {
		return s, nil
	}
	if err := Validate(c); err != nil {
		return nil, err
	}
	for _, f := range s.fields(c) {
		for _, n := range f.names {
			num, _ := Parse(n)
			if num > last {
				s.warnings = append(s.warnings, fmt.Sprintf("%s: capability %s is unknown to the running kernel (last capability %d), skipped", f.name, n, last))
				continue
			}
			*f.dst |= 1 << uint(num)
		}
	}
	// The kernel refuses to raise an ambient capability that is not both
	// permitted and inheritable; runc silently leaves such ones out.
	if bad := s.ambient &^ (s.permitted & s.inheritable); bad != 0 {
		s.warnings = append(s.warnings, fmt.Sprintf("process.capabilities.ambient: %v not in both permitted and inheritable, skipped", bad))
		s.ambient &^= bad
	}
	return s, nil
}

// Warnings lists the requested capabilities that will not be granted and
// why; hull should log them as warnings.
func (s *Set) Warnings() []string {
	return append([]string(nil), s.warnings...)
}

// DropBounding removes from the calling thread's bounding set every
// capability not in bounding. Dropping needs CAP_SETPCAP in the effective
// set, so it must run before the switch to the container user.
func (s *Set) DropBounding() error {
	for c := 0; c <= s.lastCap; c++ {
		if s.bounding.has(c) {
			continue
		}
		// Only drop what is present: PR_CAPBSET_DROP checks CAP_SETPCAP even
		// for a capability that is already gone.
		in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0)
		if err != nil {
			return fmt.Errorf("read %s from bounding set: %w", Name(c), err)
		}
		if in == 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return fmt.Errorf("drop %s from bounding set: %w", Name(c), err)
		}
	}
	return nil
}

// Apply sets the effective, permitted and inheritable sets of the calling
// thread with capset(2), then replaces the ambient set.
func (s *Set) Apply() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i := range data {
		shift := uint(32 * i)
		data[i].Effective = uint32(s.effective >> shift)
		data[i].Permitted = uint32(s.permitted >> shift)
		data[i].Inheritable = uint32(s.inheritable >> shift)
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset effective=%v permitted=%v inheritable=%v: %w", s.effective, s.permitted, s.inheritable, err)
	}
	return s.applyAmbient()
}

func (s *Set) applyAmbient() error {
	err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
	if errors.Is(err, unix.EINVAL) && s.ambient == 0 {
		return nil // kernel < 4.3 has no ambient set, and none was asked for
	}
	if err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	for c := 0; c <= s.lastCap; c++ {
		if !s.ambient.has(c) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return fmt.Errorf("raise ambient capability %s: %w", Name(c), err)
		}
	}
	return nil
}

// ApplyWithUser switches the calling thread to the container user and
// leaves it with exactly the capabilities of s. setUser must change the
// ids (process.SetUser). The order matters:
//
//  1. DropBounding, while still uid 0 with CAP_SETPCAP.
//  2. PR_SET_KEEPCAPS=1, so the uid change away from 0 keeps the permitted
//     set (the kernel would otherwise clear it; it clears effective and
//     ambient regardless).
//  3. setUser, still holding CAP_SETUID/CAP_SETGID in the effective set.
//  4. PR_SET_KEEPCAPS=0, so nothing leaks into later uid changes.
//  5. Apply, which picks effective/inheritable/ambient out of the kept
//     permitted set (capset can only shrink permitted).
//
// The caller must hold runtime.LockOSThread and execve from this thread.
func ApplyWithUser(s *Set, setUser func() error) error {
	if err := s.DropBounding(); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set keep-caps: %w", err)
	}
	if err := setUser(); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("clear keep-caps: %w", err)
	}
	return s.Apply()
}

// Masks returns the five sets as bit masks (bit n = capability n), for a
// process that applies them elsewhere (the C finisher).
func (s *Set) Masks() (bounding, effective, inheritable, permitted, ambient uint64) {
	return uint64(s.bounding), uint64(s.effective), uint64(s.inheritable), uint64(s.permitted), uint64(s.ambient)
}

// LastCap is the running kernel's last capability the set was resolved against.
func (s *Set) LastCap() int { return s.lastCap }
