package engines

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hull-runtime/hull/tests/testenv"
)

// podImage is the busybox rootfs imported into the test user's own
// storage: the pod's infra container needs an image, and no registry is
// reachable (nor catatonit installed to build podman's pause image).
const podImage = "localhost/hull-busybox:pod"

// testRootlessPod makes a pod as the rootless user (network none: no
// slirp4netns here, the pod still has its own network namespace with lo),
// runs a server and a client container in it and checks they share what a
// pod shares (net, uts, ipc) and not what it does not (pid), then stops
// and removes the pod and checks nothing of it is left.
func testRootlessPod(t *testing.T, u *testenv.User, podman func(...string) (string, error), rootfs string) {
	importUserImage(t, u, podman, rootfs)
	pod, host := "pod-"+randHex(4), "hullpod-"+randHex(3)
	t.Cleanup(func() { podman("pod", "rm", "-f", "-t", "0", pod) })
	if out, err := podman("pod", "create", "--name", pod, "--hostname", host, "--network", "none",
		"--infra-image", podImage, "--infra-command", "sleep 100000"); err != nil {
		t.Fatalf("pod create: %v: %s", err, out)
	}
	srv := pod + "-srv"
	// The server answers one connection on the pod's loopback, then stays.
	if out, err := podman("run", "-d", "--pod", pod, "--name", srv, podImage,
		"sh", "-c", "echo pong-$(hostname) | nc -l -p 7777; exec sleep 100000"); err != nil {
		t.Fatalf("run server: %v: %s", err, out)
	}
	out, err := podman("run", "--rm", "--pod", pod, podImage, "sh", "-c",
		`for i in $(seq 100); do r=$(nc 127.0.0.1 7777 </dev/null) && [ -n "$r" ] && break; sleep 0.1; done
echo "reply=$r"; echo "host=$(hostname)"; for n in net uts ipc pid; do echo "$n=$(readlink /proc/self/ns/$n)"; done`)
	client := keyValues(out)
	if err != nil || client["reply"] != "pong-"+host {
		t.Fatalf("client over the pod's loopback: %v: %s", err, out)
	}
	out, err = podman("exec", srv, "sh", "-c", `echo "host=$(hostname)"; for n in net uts ipc pid; do echo "$n=$(readlink /proc/self/ns/$n)"; done`)
	server := keyValues(out)
	if err != nil || server["net"] == "" {
		t.Fatalf("exec server: %v: %s", err, out)
	}
	if client["host"] != host || server["host"] != host {
		t.Errorf("hostnames: client %q, server %q, want the pod's %q", client["host"], server["host"], host)
	}
	for _, ns := range []string{"net", "uts", "ipc"} {
		if client[ns] == "" || client[ns] != server[ns] {
			t.Errorf("%s namespace not shared: client %q, server %q", ns, client[ns], server[ns])
		}
	}
	if client["pid"] == "" || client["pid"] == server["pid"] {
		t.Errorf("pid namespace: client %q, server %q; a pod does not share it by default", client["pid"], server["pid"])
	}
	t.Logf("client %v, server %v", client, server)
	if out, err := podman("pod", "stop", "-t", "1", pod); err != nil {
		t.Errorf("pod stop: %v: %s", err, out)
	}
	if out, err := podman("ps", "-a", "--pod", "--filter", "pod="+pod, "--format", "{{.Names}} {{.Status}}"); err != nil || strings.Contains(out, "Up") {
		t.Errorf("after pod stop: %v: %s", err, out)
	}
	if out, err := podman("pod", "rm", "-f", pod); err != nil {
		t.Errorf("pod rm -f: %v: %s", err, out)
	}
	wantNothingLeft(t, u, podman)
}

// importUserImage imports the rootfs as podImage into the user's storage.
func importUserImage(t *testing.T, u *testenv.User, podman func(...string) (string, error), rootfs string) {
	layer := filepath.Join(u.Dir, "pod-rootfs.tar")
	f, err := os.Create(layer)
	if err != nil {
		t.Fatal(err)
	}
	err = writeRootfsTar(f, rootfs)
	f.Close()
	defer os.Remove(layer)
	if err != nil {
		t.Fatalf("tar %s: %v", rootfs, err)
	}
	if err := os.Chown(layer, u.UID, u.GID); err != nil {
		t.Fatal(err)
	}
	if out, err := podman("import", layer, podImage); err != nil {
		t.Fatalf("import: %v: %s", err, out)
	}
}

// wantNothingLeft checks the user has no container, no pod and no process
// but podman's pause process (which holds its user namespace) left.
func wantNothingLeft(t *testing.T, u *testenv.User, podman func(...string) (string, error)) {
	if out, err := podman("ps", "-a", "-q"); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("containers left: %v: %q", err, out)
	}
	if out, err := podman("pod", "ps", "-q"); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("pods left: %v: %q", err, out)
	}
	pause := 0
	if data, err := os.ReadFile(filepath.Join(u.Dir, "run", "libpod", "tmp", "pause.pid")); err == nil {
		pause, _ = strconv.Atoi(strings.TrimSpace(string(data)))
	}
	var left []string
	for deadline := time.Now().Add(5 * time.Second); ; sleepMs(100) {
		left = userProcs(u.UID, pause)
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("processes of %s left after pod rm: %v", u.Name, left)
	}
}

// userProcs lists the processes of uid (container processes of a rootless
// user map to it) other than skip, as "pid:comm".
func userProcs(uid, skip int) []string {
	ents, _ := os.ReadDir("/proc")
	var procs []string
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == skip {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		f := statusFields(string(status))
		if uids := strings.Fields(f["Uid"]); len(uids) > 0 && uids[0] == strconv.Itoa(uid) {
			procs = append(procs, fmt.Sprintf("%d:%s", pid, f["Name"]))
		}
	}
	return procs
}

// keyValues parses the key=value lines a container printed.
func keyValues(out string) map[string]string {
	kv := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok {
			kv[k] = v
		}
	}
	return kv
}
