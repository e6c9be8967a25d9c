package guest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

const cgroupRoot = "/sys/fs/cgroup"

// inGuest skips the test unless it runs in the make test-guest guest, whose
// cgroup tree and systemd are ours to change.
func inGuest(t *testing.T) {
	t.Helper()
	if os.Getenv("HULL_GUEST") != "1" {
		t.Skip("runs only inside the make test-guest guest (HULL_GUEST=1)")
	}
}

func randomName(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random name: %v", err)
	}
	return prefix + hex.EncodeToString(b)
}

// ownCgroup returns the cgroup v2 path of pid from /proc/PID/cgroup.
func ownCgroup(pid int) (string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", fmt.Errorf("read cgroup of pid %d: %w", pid, err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("pid %d has no cgroup v2 entry in %q", pid, data)
}

func TestCgroupV2Unified(t *testing.T) {
	inGuest(t)
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil {
		t.Fatalf("statfs %s: %v", cgroupRoot, err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Fatalf("%s has fs magic %#x, want cgroup2 %#x", cgroupRoot, st.Type, unix.CGROUP2_SUPER_MAGIC)
	}
	data, err := os.ReadFile(filepath.Join(cgroupRoot, "cgroup.controllers"))
	if err != nil {
		t.Fatalf("read root controllers: %v", err)
	}
	have := strings.Fields(string(data))
	for _, want := range []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"} {
		t.Run(want, func(t *testing.T) {
			for _, h := range have {
				if h == want {
					return
				}
			}
			t.Errorf("controller %s missing from root cgroup.controllers %q", want, have)
		})
	}
}

func TestSystemdIsPID1(t *testing.T) {
	inGuest(t)
	comm, err := os.ReadFile("/proc/1/comm")
	if err != nil {
		t.Fatalf("read /proc/1/comm: %v", err)
	}
	if got := strings.TrimSpace(string(comm)); got != "systemd" {
		t.Fatalf("PID 1 is %q, want systemd", got)
	}
}

// TestSystemdRunScope: systemd-run --scope puts the command in a transient
// scope of its own, as the systemd cgroup driver expects.
func TestSystemdRunScope(t *testing.T) {
	inGuest(t)
	unit := randomName(t, "hull-probe-") + ".scope"
	out, err := exec.Command("systemd-run", "--quiet", "--scope", "--unit="+unit,
		"-p", "Delegate=yes", "cat", "/proc/self/cgroup").CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-run --scope: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "/"+unit) {
		t.Fatalf("command ran in %q, want a cgroup ending in /%s", out, unit)
	}
}
