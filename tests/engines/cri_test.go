package engines

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hull-runtime/hull/tests/testenv"
)

// The images the CRI tests use, under the references critest asks for
// (cri-tools' pkg/framework DefaultLinuxContainerImage, and the sandbox
// image set in containerd's config). No registry is reachable: they are
// made from the busybox rootfs and imported, so critest's "pull if
// missing" never pulls.
const (
	criBusyboxImage = "registry.k8s.io/e2e-test-images/busybox:1.29-2"
	criPauseImage   = "registry.k8s.io/pause:3.6"
	criNamespace    = "k8s.io"
)

// criHandlers are the runtime handlers containerd's CRI offers: runc, the
// control, and hull; both through the runc v2 shim, with BinaryName.
var criHandlers = []string{"runc", "hull"}

// criDaemon is a containerd with its CRI plugin, in mount and network
// namespaces of its own: "/" there is rshared, as on a systemd host (which
// Bidirectional mount propagation needs), and nothing it mounts reaches the
// host's namespace; pods' networks (a CNI bridge) live in its network
// namespace. Its root, state, socket, CNI config and the runtimes' state
// roots are in the scratch directory, and it runs in the scratch cgroup, so
// containers whose cgroup path is relative land there too.
type criDaemon struct {
	t      *testing.T
	hull   string
	s      *scratch
	sock   string
	daemon *exec.Cmd
	done   chan error // the daemon's Wait
}

// criRoot is the state root the shim passes a handler's runtime.
func (c *criDaemon) criRoot(handler string) string {
	return filepath.Join(c.s.Dir, handler+"-root", criNamespace)
}

func newCRIDaemon(t *testing.T) *criDaemon {
	t.Helper()
	bin, rootfs := testenv.RequireHull(t, "engine tests")
	requireTools(t, "containerd runc containernetworking-plugins util-linux iproute2",
		"containerd", "ctr", "containerd-shim-runc-v2", "runc", "unshare", "nsenter", "ip")
	runcBin, _ := exec.LookPath("runc")
	crictlBin(t) // skips before anything starts when it is missing
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		t.Skip("CNI plugins not installed (Debian: apt-get install containernetworking-plugins)")
	}
	s := newScratch(t, "cri")
	removeNewEntries(t, "/run/netns")
	removeNewCgroups(t, "k8s.io")
	c := &criDaemon{t: t, hull: bin, s: s, sock: filepath.Join(s.Dir, "containerd.sock")}
	c.writeConfig(runcBin)
	c.start()
	t.Cleanup(c.teardown)
	c.importImage(rootfs, criBusyboxImage, nil, []string{"sh"})
	// The sandbox's process: sleeps as PID 1 until containerd kills it.
	c.importImage(rootfs, criPauseImage, []string{"/bin/sleep"}, []string{"2147483647"})
	return c
}

// writeConfig writes containerd's config, the CNI network and crictl's
// config into the scratch directory.
func (c *criDaemon) writeConfig(runcBin string) {
	d := c.s.Dir
	runtime := func(name, bin string) string {
		return fmt.Sprintf(`    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.%s]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.%s.options]
        BinaryName = %q
        Root = %q
`, name, name, bin, filepath.Join(d, name+"-root"))
	}
	cfg := fmt.Sprintf(`version = 2
root = %q
state = %q
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = %q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  restrict_oom_score_adj = %t
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %q
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]
%s%s`, filepath.Join(d, "root"), filepath.Join(d, "state"), c.sock, c.sock+".ttrpc",
		filepath.Join(d, "opt"), criPauseImage, restrictOOM(c.t), filepath.Join(d, "certs.d"), filepath.Join(d, "cni"),
		runtime("runc", runcBin), runtime("hull", c.hull))
	// A bridge in containerd's own network namespace; no masquerading, so
	// no firewall rule anywhere.
	cni := fmt.Sprintf(`{"cniVersion": "0.4.0", "name": "hull-cri", "plugins": [
  {"type": "bridge", "bridge": "hullcri0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/16"}]],
            "routes": [{"dst": "0.0.0.0/0"}], "dataDir": %q}}]}`, filepath.Join(d, "cni-ipam"))
	crictl := fmt.Sprintf("runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 60\n", c.sock, c.sock)
	for path, content := range map[string]string{
		"containerd.toml":          cfg,
		"cni/10-hull-cri.conflist": cni,
		"crictl.yaml":              crictl,
	} {
		full := filepath.Join(d, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			c.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			c.t.Fatal(err)
		}
	}
}

// restrictOOM: without CAP_SYS_RESOURCE (as in some sandboxes) no runtime,
// runc included, can lower oom_score_adj to the -998 the CRI gives sandboxes;
// containerd's restrict_oom_score_adj then keeps scores at its own or above.
func restrictOOM(t *testing.T) bool {
	if haveCap(24) { // CAP_SYS_RESOURCE
		return false
	}
	t.Logf("no CAP_SYS_RESOURCE here: no runtime can lower oom_score_adj; containerd runs with restrict_oom_score_adj")
	return true
}

// start runs containerd under unshare(1) in new mount and network
// namespaces; it waits on stdin until the test has moved it into the
// scratch cgroup, so that nothing of it runs elsewhere.
func (c *criDaemon) start() {
	c.t.Helper()
	logf, err := os.Create(filepath.Join(c.s.Dir, "containerd.log"))
	if err != nil {
		c.t.Fatal(err)
	}
	defer logf.Close()
	script := `read go && mount --make-rshared / && ip link set lo up && exec containerd --config "$1"`
	c.daemon = exec.Command("unshare", "--mount", "--net", "--propagation", "private", "--",
		"sh", "-c", script, "sh", filepath.Join(c.s.Dir, "containerd.toml"))
	stdin, err := c.daemon.StdinPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	c.daemon.Stdout, c.daemon.Stderr = logf, logf
	if err := c.daemon.Start(); err != nil {
		c.t.Fatalf("start containerd: %v", err)
	}
	c.done = make(chan error, 1)
	go func() { c.done <- c.daemon.Wait() }()
	if err := joinCgroup(c.s.Cgroup, c.daemon.Process.Pid); err != nil {
		c.stopDaemon()
		c.t.Fatalf("place containerd in %s: %v", c.s.Cgroup, err)
	}
	stdin.Write([]byte("go\n"))
	stdin.Close()
	deadline := time.Now().Add(cmdTimeout) // a loaded host slows the daemon's start
	for {
		r := c.crictl(c.t, "version")
		if r.Code == 0 {
			return
		}
		if time.Now().After(deadline) {
			c.stopDaemon()
			c.t.Fatalf("containerd's CRI did not come up in %v: %s\nlog: %s", cmdTimeout, r, c.log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// joinCgroup makes the absolute cgroup in every hierarchy (cpuset's
// cpus and mems copied from its root, which a new v1 cpuset lacks) and
// moves pid into it.
func joinCgroup(cgroup string, pid int) error {
	entries, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return err
	}
	for _, e := range entries {
		root := filepath.Join("/sys/fs/cgroup", e.Name())
		if !e.IsDir() || !fileExists(filepath.Join(root, "cgroup.procs")) {
			continue // symlinks such as cpu -> cpu,cpuacct
		}
		dir := filepath.Join(root, cgroup)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if data, err := os.ReadFile(filepath.Join(root, f)); err == nil {
				if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
					return err
				}
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
	}
	return nil
}

func (c *criDaemon) log() string {
	data, _ := os.ReadFile(filepath.Join(c.s.Dir, "containerd.log"))
	return string(data)
}

// inNS runs a program in containerd's mount and network namespaces: the
// streaming server (exec, attach) listens on its loopback, and host paths
// critest mounts must be in the namespace the pods' mounts come from.
func (c *criDaemon) inNS(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	full := append([]string{"-t", strconv.Itoa(c.daemon.Process.Pid), "-m", "-n", "--", name}, args...)
	return runCmd(t, env, nil, "nsenter", full...)
}

// crictl runs crictl against the test's containerd.
func (c *criDaemon) crictl(t *testing.T, args ...string) result {
	t.Helper()
	return c.inNS(t, nil, crictlBin(t), append([]string{"--config", filepath.Join(c.s.Dir, "crictl.yaml")}, args...)...)
}

func (c *criDaemon) mustCrictl(t *testing.T, args ...string) string {
	t.Helper()
	r := c.crictl(t, args...)
	if r.Code != 0 {
		t.Fatalf("%s", r)
	}
	return strings.TrimSpace(r.Stdout)
}

// ctr runs ctr against the test's containerd, in the CRI's namespace.
func (c *criDaemon) ctr(args ...string) result {
	c.t.Helper()
	return runCmd(c.t, nil, nil, "ctr", append([]string{"--address", c.sock, "-n", criNamespace}, args...)...)
}

func (c *criDaemon) importImage(rootfs, ref string, entrypoint, cmd []string) {
	c.t.Helper()
	archive := filepath.Join(c.s.Dir, "image.tar")
	if err := writeOCIArchiveCmd(archive, rootfs, ref, entrypoint, cmd); err != nil {
		c.t.Fatalf("image archive: %v", err)
	}
	defer os.Remove(archive)
	if r := c.ctr("images", "import", archive); r.Code != 0 {
		c.t.Fatalf("%s", r)
	}
}

// teardown removes every pod (and with them their containers) through the
// CRI, stops containerd by its PID, and checks neither runtime holds a
// container.
func (c *criDaemon) teardown() {
	if c.daemon == nil {
		return
	}
	if r := c.crictl(c.t, "pods", "--quiet"); r.Code == 0 {
		for _, id := range strings.Fields(r.Stdout) {
			c.crictl(c.t, "stopp", id)
			if r := c.crictl(c.t, "rmp", "--force", id); r.Code != 0 {
				c.t.Errorf("cleanup: %s", r)
			}
		}
	}
	c.ctr("images", "rm", criBusyboxImage, criPauseImage)
	c.stopDaemon()
	wantNoHullContainers(c.t, c.hull, c.criRoot("hull"))
	if c.t.Failed() {
		logErrors(c.t, "containerd", c.log())
	}
}

// stopDaemon ends containerd by PID: SIGTERM, then SIGKILL after 10s.
// Its shims then hold nothing (their containers are gone) and exit.
func (c *criDaemon) stopDaemon() {
	if c.daemon == nil {
		return
	}
	stopByPID(c.t, "containerd", c.daemon, c.done, 10*time.Second)
	c.daemon = nil
	// A shim outlives containerd until its last container is gone; give
	// them a moment before the scratch cleanup counts leftovers.
	waitGone(c.s.Dir, 10*time.Second)
}

// waitGone waits until no process names dir on its command line.
func waitGone(dir string, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for len(pidsWithArg(dir)) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
}

// removeNewEntries removes, on cleanup, entries of dir that were not there
// when it was called: containerd names pods' network namespaces in
// /run/netns (the nsfs mounts are in its own mount namespace, the files on
// the host's /run).
func removeNewEntries(t *testing.T, dir string) {
	before := map[string]bool{}
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			before[e.Name()] = true
		}
	}
	t.Cleanup(func() {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if !before[e.Name()] && strings.HasPrefix(e.Name(), "cni-") {
				t.Errorf("network namespace file left behind: %s", filepath.Join(dir, e.Name()))
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	})
}

// crictlBin is the crictl `make cri-tools` builds into _build (cri-tools
// from the Go module proxy), or one on PATH.
func crictlBin(t *testing.T) string {
	return criToolsBin(t, "crictl")
}

func criToolsBin(t *testing.T, name string) string {
	t.Helper()
	if dir := os.Getenv("HULL_CRI_TOOLS"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		t.Skipf("%s not in HULL_CRI_TOOLS=%s (make cri-tools builds it)", name, dir)
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Skipf("%s not found: set HULL_CRI_TOOLS (make cri-tools builds it into _build/cri-tools)", name)
	return ""
}
