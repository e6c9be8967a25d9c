package engines

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/tests/testenv"
)

// Rootless podman (a test user, cgroupfs manager: this cgroup v1 host
// delegates nothing) with hull as its runtime, runc as the control: run,
// exec, --read-only, --tmpfs, stop. No image: --rootfs of the busybox tree.
func TestPodmanRootless(t *testing.T) {
	requireTools(t, "podman", "podman", "conmon", "newuidmap")
	hull, rootfs := testenv.RequireHull(t, "engine tests")
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Skipf("runc: %v", err)
	}
	u := testenv.NewUser(t, true)
	t.Cleanup(func() { killPausePid(t, u) })
	root := filepath.Join(u.Dir, "rootfs")
	if out, err := exec.Command("cp", "-a", rootfs, root).CombinedOutput(); err != nil {
		t.Fatalf("copy rootfs: %v: %s", err, out)
	}
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", u.UID, u.GID), root).CombinedOutput(); err != nil {
		t.Fatalf("chown rootfs: %v: %s", err, out)
	}
	for _, rt := range []struct{ name, bin string }{{"runc", runc}, {"hull", hull}} {
		t.Run(rt.name, func(t *testing.T) {
			podman := userPodman(u, rt.bin)
			t.Run("pod", func(t *testing.T) { testRootlessPod(t, u, podman, rootfs) })
			out, err := podman("run", "--rm", "--network", "none", "--rootfs", root, "sh", "-c", "id -u; head -1 /proc/self/uid_map")
			if f := strings.Fields(out); err != nil || len(f) < 4 || f[0] != "0" || f[1] != "0" || f[2] != strconv.Itoa(u.UID) {
				t.Fatalf("run: %v: %s", err, out)
			}
			name := "rl-" + randHex(4)
			t.Cleanup(func() { podman("rm", "-f", "-t", "0", name) })
			if out, err := podman("run", "-d", "--name", name, "--network", "none", "--read-only", "--tmpfs", "/scratch", "--rootfs", root, "sleep", "1000"); err != nil {
				t.Fatalf("run -d: %v: %s", err, out)
			}
			out, err = podman("exec", name, "sh", "-c", "echo tmpfs-ok > /scratch/f && cat /scratch/f; touch /etc/x 2>&1 || echo ro-ok")
			if err != nil || !strings.Contains(out, "tmpfs-ok") || !strings.Contains(out, "ro-ok") {
				t.Errorf("exec: %v: %s", err, out)
			}
			if out, err := podman("stop", "-t", "1", name); err != nil {
				t.Errorf("stop: %v: %s", err, out)
			}
			if out, err := podman("rm", name); err != nil {
				t.Errorf("rm: %v: %s", err, out)
			}
		})
	}
}

// userPodman runs rootless podman as u with bin as its runtime and
// returns its output without podman's own warnings.
func userPodman(u *testenv.User, bin string) func(args ...string) (string, error) {
	return func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		defer cancel()
		base := []string{"--runtime", bin, "--cgroup-manager", "cgroupfs", "--storage-driver", "vfs", "--events-backend", "file"}
		out, err := u.Command(ctx, u.Dir, "podman", append(base, args...)...).CombinedOutput()
		// Podman's own warnings (logrus lines) are not the container's output.
		var lines []string
		for _, l := range strings.Split(string(out), "\n") {
			if !strings.HasPrefix(l, "time=") {
				lines = append(lines, l)
			}
		}
		return strings.Join(lines, "\n"), err
	}
}

// killPausePid ends the pause process rootless podman leaves to hold its
// user namespace, so that the test user can be removed.
func killPausePid(t *testing.T, u *testenv.User) {
	data, err := os.ReadFile(filepath.Join(u.Dir, "run", "libpod", "tmp", "pause.pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return
	}
	var st unix.Stat_t
	if unix.Stat(fmt.Sprintf("/proc/%d", pid), &st) == nil && int(st.Uid) == u.UID {
		unix.Kill(pid, unix.SIGKILL)
	}
}
