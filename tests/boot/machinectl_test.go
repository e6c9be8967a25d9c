package boot

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestServiceDefaults boots with the flags systemd-nspawn@.service (and so
// `machinectl start`) passes: -b -U --network-veth --settings=override, with
// hull itself in a network namespace of the test's own, where the hook puts
// the host end ve-NAME. Inside, host0 is there and owned by the machine's
// user namespace; after poweroff no link is left.
func TestServiceDefaults(t *testing.T) {
	s := setup(t)
	b := make([]byte, 3)
	rand.Read(b)
	name := "svc" + hex.EncodeToString(b) // ve-NAME fits in 15 bytes
	ns := "hull-boot-" + name
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	_, img := userImage(t, s, name)
	cg := machineCgroup(t, s, name)
	cmd := exec.Command("nsenter", "--net=/run/netns/"+ns, s.hull, "nspawn", "--quiet", "--keep-unit", "--boot", "-U", "--network-veth",
		"--settings=override", "-D", img, "-M", name, "--console=pipe", "--cgroups-path", cg)
	m := startCmd(t, cmd, name, cg)
	ex := func(args ...string) (string, error) {
		out, err := exec.Command(s.hull, append([]string{"exec", name}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	waitRunning(t, m, ex)
	if out, err := ex("cat", "/sys/class/net/host0/operstate"); err != nil {
		t.Errorf("no host0 in the machine: %v %s", err, out)
	}
	if out, _ := ex("sh", "-c", "grep -c . /proc/self/uid_map; awk '{print $1}' /proc/self/uid_map"); out != "1\n0" {
		t.Errorf("uid_map %q: want one range from 0", out)
	}
	if out, err := exec.Command("ip", "-n", ns, "-o", "link", "show", "ve-"+name).CombinedOutput(); err != nil || !strings.Contains(string(out), ",UP") {
		t.Errorf("host end ve-%s missing or down: %v %s", name, err, out)
	}
	if code := m.halt(t, s.hull); code != 0 {
		t.Errorf("exit status %d, want 0\n%s", code, m.out)
	}
	if out, err := exec.Command("ip", "-n", ns, "link", "show", "ve-"+name).CombinedOutput(); err == nil {
		t.Errorf("ve-%s left after poweroff: %s", name, out)
	}
	assertNothingLeft(t, m, img, nspawnRuns)
}

// TestUserNSImageInPrivateDir: with -U, an image whose parent others cannot
// search (machined makes /var/lib/machines 0700) still boots: hull binds
// it where the machine's root can reach it, as nspawn binds it before
// entering the user namespace, and removes the bind afterwards.
func TestUserNSImageInPrivateDir(t *testing.T) {
	s := setup(t)
	name := randomName("priv-")
	parent, img := userImage(t, s, name)
	if err := os.Chmod(parent, 0o700); err != nil {
		t.Fatal(err)
	}
	cg := machineCgroup(t, s, name)
	cmd := exec.Command(s.hull, "nspawn", "-b", "-U", "-D", img, "-M", name, "--console=pipe", "--cgroups-path", cg)
	m := startCmd(t, cmd, name, cg)
	ex := func(args ...string) (string, error) {
		out, err := exec.Command(s.hull, append([]string{"exec", name}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	waitRunning(t, m, ex)
	if code := m.halt(t, s.hull); code != 0 {
		t.Errorf("exit status %d, want 0\n%s", code, m.out)
	}
	assertNothingLeft(t, m, img, nspawnRuns)
}
