package syscontainer

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSystemExitStatus(t *testing.T) {
	boot := &specs.Spec{Annotations: map[string]string{AnnotationBoot: "yes"}}
	app := &specs.Spec{}
	cases := []struct {
		spec     *specs.Spec
		in, want int
	}{
		{boot, 130, 0}, {boot, 129, 133}, {boot, 137, 137}, {boot, 3, 3},
		{app, 130, 130}, {app, 129, 129}, {nil, 130, 130},
	}
	for _, c := range cases {
		if got := SystemExitStatus(c.spec, c.in); got != c.want {
			t.Errorf("SystemExitStatus(boot=%v, %d) = %d, want %d", Booted(c.spec), c.in, got, c.want)
		}
	}
}

// TestNotifyRelay sends READY=1 to the socket a converted bundle's
// /run/host/notify maps to and expects it at hull's own NOTIFY_SOCKET.
func TestNotifyRelay(t *testing.T) {
	dir := t.TempDir()
	spec := &specs.Spec{
		Annotations: map[string]string{AnnotationMachine: "m"},
		Process:     &specs.Process{Env: []string{"NOTIFY_SOCKET=/run/host/notify"}},
		Mounts:      []specs.Mount{{Destination: "/run", Type: "tmpfs"}, {Destination: "/run/host", Type: "bind", Source: "run-host"}},
	}
	host := NotifySocketPath(spec, dir)
	if want := filepath.Join(dir, "run-host", "notify"); host != want {
		t.Fatalf("NotifySocketPath = %q, want %q", host, want)
	}
	if NotifySocketPath(&specs.Spec{Process: spec.Process, Mounts: spec.Mounts}, dir) != "" {
		t.Error("a bundle that is not a converted machine got a relay")
	}
	outer := filepath.Join(dir, "manager.sock")
	mgr, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: outer, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Close()
	if err := mkdirAll(filepath.Dir(host)); err != nil {
		t.Fatal(err)
	}
	r, err := NewNotifyRelay(host, outer)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sendNotify(host, "STATUS=booting\nREADY=1\nMAINPID=1")
	select {
	case <-r.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("READY=1 not seen")
	}
	mgr.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 256)
	n, err := mgr.Read(buf)
	if err != nil || string(buf[:n]) != "STATUS=booting\nREADY=1" {
		t.Errorf("manager got %q (%v)", buf[:n], err)
	}
}

func mkdirAll(p string) error { return os.MkdirAll(p, 0o755) }
