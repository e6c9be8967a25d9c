package boot

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A host account that exists only in the conversion's mount namespace, so
// the test never edits the host's user database.
const (
	boundName = "hullbound"
	boundID   = 31337 // host uid and gid
	boundHash = "$y$j9T$hulltestsalt$notarealhashbutwellformedxxxxxxxxxxxxxxxxx"
)

// convertWithHostUser runs `hull convert` with /etc/passwd, /etc/group and
// /etc/shadow replaced, in a private mount namespace, by copies that add
// the bound user.
func convertWithHostUser(t *testing.T, s *suite, home string, args ...string) {
	t.Helper()
	dir := t.TempDir()
	add := map[string]string{
		"passwd": fmt.Sprintf("%s:x:%d:%d:Bound User:%s:/bin/sh\n", boundName, boundID, boundID, home),
		"group":  fmt.Sprintf("%s:x:%d:\n", boundName, boundID),
		"shadow": fmt.Sprintf("%s:%s:19000:0:99999:7:::\n", boundName, boundHash),
	}
	script := ""
	for name, line := range add {
		old, err := os.ReadFile("/etc/" + name)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, append(old, line...), 0o644); err != nil {
			t.Fatal(err)
		}
		script += fmt.Sprintf("mount --bind %s /etc/%s && ", p, name)
	}
	all := append([]string{"--mount", "--propagation", "private", "sh", "-c", script + `exec "$@"`, "sh", s.hull, "convert"}, args...)
	if out, err := exec.Command("unshare", all...).CombinedOutput(); err != nil {
		t.Fatalf("hull convert %v: %v\n%s", args, err, out)
	}
}

// TestBindUser binds a host account into a booted machine in a user
// namespace, under every runtime: nss-systemd inside resolves it from the
// records in /run/host/userdb, its home is bound and its own, a file it
// writes there belongs to the host user, and only root reads its hash (and
// the credentials, written by the host's root for the container's).
func TestBindUser(t *testing.T) {
	s := setup(t)
	name := randomName("binduser-")
	parent, img := userImage(t, s, name)
	home, bundle := filepath.Join(parent, "home"), filepath.Join(parent, "bundle")
	// The user namespace's root reaches the bundle (its run-host), not the
	// home: the bound user does, as its owner.
	if err := os.Mkdir(bundle, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, boundID, boundID); err != nil {
		t.Fatal(err)
	}
	// One cgroup for the runs one after another; never the default
	// /machine.slice, whose parent nobody would remove.
	cg := "/" + randomName("hull-boot-")
	t.Cleanup(func() { removeCgroup(cg) })
	convertWithHostUser(t, s, home, "--bundle", bundle, "-D", img, "-M", name, "-b", "--console=pipe", "--cgroups-path", cg,
		"--private-users=524288:65536", "--private-users-ownership=chown", "--private-network", "--bind-user="+boundName, "--set-credential=hull.test:sealed")
	for _, rt := range runtimes(t, s) {
		t.Run(rt.name, func(t *testing.T) {
			id := name + "-" + rt.name
			t.Cleanup(func() {
				rt.cmd("delete", "--force", id).Run()
				removeCgroup(cg)
			})
			m := startCmd(t, rt.cmd("run", "--bundle", bundle, id), id, cg)
			m.name = name // the hostname checks compare against it
			ex := func(args ...string) (string, error) { return rt.output(t, append([]string{"exec", id}, args...)...) }
			waitRunning(t, m, ex)
			checkBoundUser(t, rt.name, ex, home)
			powerOff(t, rt, m, id)
			assertNothingLeft(t, m, bundle, img, home)
		})
	}
}

func checkBoundUser(t *testing.T, rt string, ex execFunc, hostHome string) {
	t.Helper()
	want := map[string]string{
		"getent passwd " + boundName + " | cut -d: -f1,3,4,6": boundName + ":60514:60514:/run/host/home/" + boundName,
		"getent group " + boundName + " | cut -d: -f1,3":      boundName + ":60514",
		"getent shadow " + boundName + " | cut -d: -f2":       boundHash,
		"stat -c %u:%g /run/host/home/" + boundName:           "60514:60514",
		"grep -c . /proc/1/uid_map":                           "3",
		// Credentials (0400) are the container root's, not the host's.
		"cat /run/host/credentials/hull.test":                "sealed",
		"awk '$1 == 60514 { print $2, $3 }' /proc/1/gid_map": fmt.Sprintf("%d 1", boundID),
		// setpriv resolves the name through NSS, i.e. through the records.
		"setpriv --reuid=" + boundName + " --regid=" + boundName + " --clear-groups sh -c 'id -un; echo hi > /run/host/home/" + boundName + "/from-" + rt + "'":        boundName,
		"setpriv --reuid=" + boundName + " --regid=" + boundName + " --clear-groups cat /run/host/userdb/" + boundName + ".user-privileged 2>/dev/null || echo denied": "denied",
	}
	for cmd, w := range want {
		got, err := ex("sh", "-c", cmd)
		if err != nil || got != w {
			t.Errorf("%s: %q = %q (%v), want %q", rt, cmd, got, err, w)
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(hostHome, "from-"+rt), &st); err != nil || st.Uid != boundID || st.Gid != boundID {
		t.Errorf("%s: file written by the bound user: owner %d:%d (%v) on the host, want %d", rt, st.Uid, st.Gid, err, boundID)
	}
	if out, _ := ex("sh", "-c", "ls /run/host/home/"); strings.TrimSpace(out) != boundName {
		t.Errorf("%s: /run/host/home lists %q", rt, out)
	}
}
