package e2e

import (
	"os"
	"strconv"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestMemorySwapZeroAndHighReservation: memory.swap 0 is unset and a
// reservation above the limit is written as given, under hull as under
// runc (the control); both used to fail hull's validation.
func TestMemorySwapZeroAndHighReservation(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err != nil {
		t.Skip("this test reads cgroup v1 files; /sys/fs/cgroup/memory is missing")
	}
	limit, zero, reservation := int64(96<<20), int64(0), int64(192<<20)
	for _, c := range withControls(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "1000"}
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &zero, Reservation: &reservation}
	}) {
		c.mustCreate()
		c.mustHull("start", c.ID)
		wantCgroupFiles(t, c.Cgroup, []cgroupFile{
			{"memory", "memory.limit_in_bytes", strconv.FormatInt(limit, 10)},
			{"memory", "memory.soft_limit_in_bytes", strconv.FormatInt(reservation, 10)},
		})
	}
}
