package libcontainer

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/state"
	"github.com/hull-runtime/hull/libcontainer/wire"
	"github.com/hull-runtime/hull/oci"
)

// fuzzDeadline bounds one input: a parser that takes longer hangs.
const fuzzDeadline = 5 * time.Second

// withDeadline fails the fuzz input if f does not return in time.
func withDeadline(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(fuzzDeadline):
		t.Fatalf("%s: no answer within %v (hang)", what, fuzzDeadline)
	}
}

func defaultConfig(t testing.TB) []byte {
	data, err := json.Marshal(oci.DefaultSpec())
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// FuzzConfig: a bundle's config.json, loaded and validated the whole way
// `hull create` goes before it makes anything (LoadBundle, the runtime's
// checks, network devices). Never a panic or a hang; every error names
// the config file.
func FuzzConfig(f *testing.F) {
	f.Add(defaultConfig(f))
	f.Add([]byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"cwd":"/","args":["sh"]}}`))
	f.Add([]byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"cwd":"/","args":["sh"],"rlimits":[{"type":"RLIMIT_BOGUS"}]},"linux":{"namespaces":[{"type":"network","path":"/proc/self/ns/net"}]}}`))
	// Regression: a namespace path naming a fifo hung create.
	f.Add([]byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"cwd":"/","args":["sh"]},"linux":{"namespaces":[{"type":"network","path":"FIFO"}]}}`))
	f.Add([]byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"cwd":"/","args":["sh"]},"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ERRNO"}]},"sysctl":{"net.a":"1"},"netDevices":{"eth0":{}}}}`))
	f.Add([]byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"cwd":"/","args":["sh"],"terminal":true,"capabilities":{"bounding":["CAP_NOPE"]}},"mounts":[{"destination":"rel","type":"bind"}]}`))
	f.Add([]byte(`{"process":null}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
			t.Fatal(err)
		}
		fifo := filepath.Join(dir, "fifo")
		if err := unix.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		data = bytes.ReplaceAll(data, []byte(`"FIFO"`), []byte(`"`+fifo+`"`))
		if err := os.WriteFile(filepath.Join(dir, oci.ConfigFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		withDeadline(t, "config.json", func() {
			b, err := oci.LoadBundle(dir)
			if err != nil {
				if !strings.Contains(err.Error(), oci.ConfigFile) {
					t.Errorf("error does not name the config file: %v", err)
				}
				return
			}
			_ = validateRuntime(b.Spec, CreateOpts{})
			_ = validateNetDevices(b.Spec.Linux)
		})
	})
}

// FuzzStateJSON: a container's state.json as every command loads it, and
// the status derived from it. Never a panic or a hang.
func FuzzStateJSON(f *testing.F) {
	f.Add([]byte(`{"id":"a","bundle":"/b","rootfs":"/b/rootfs","created":"2024-01-01T00:00:00Z","init":{"pid":1,"start":1}}`))
	f.Add([]byte(`{"id":"a","cgroup":{"paths":{"memory":"../../../"}},"spec":{"process":null}}`))
	f.Add([]byte(`{"spec":{"ociVersion":"1.0.2"},"init":{"pid":-1}}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"created":"nope"}`))
	f.Add([]byte(`{"id":"a","init":{"pid":1},"spec":{"annotations":{"a":"b"},"hooks":{"poststop":[{"path":"/x"}]},"linux":{"namespaces":[{"type":"pid"}]},"process":5}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		d, err := state.Create(root, "c")
		if err != nil {
			t.Fatal(err)
		}
		d.Close()
		if err := os.WriteFile(filepath.Join(root, "c", "state.json"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		withDeadline(t, "state.json", func() {
			c, err := Load(root, "c", true)
			if err != nil {
				if !strings.Contains(err.Error(), "state.json") {
					t.Errorf("error does not name state.json: %v", err)
				}
				return
			}
			defer c.Close()
			_ = c.State()
			_ = c.ownsPIDNamespace()
			_ = c.hooks()
			// The spec's rest, decoded on demand, fails naming the file too.
			if _, err := c.FullSpec(); err != nil && !strings.Contains(err.Error(), "state.json") {
				t.Errorf("FullSpec error does not name state.json: %v", err)
			}
		})
	})
}

// FuzzSyncMessages: the framed messages between hull and its init. A
// message is read whole or refused; a frame never allocates more than the
// limit.
func FuzzSyncMessages(f *testing.F) {
	var seed bytes.Buffer
	wire.Write(&seed, wire.MsgReady, []byte("warning one\nwarning two"))
	f.Add(seed.Bytes())
	f.Add([]byte{wire.MsgConfig, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{wire.MsgError, 3, 0, 0, 0, 'b', 'a', 'd'})
	f.Add([]byte{wire.MsgConfig, 2, 0, 0, 0, '{', '}'})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for range 16 {
			typ, payload, err := wire.Read(r)
			if err != nil {
				return
			}
			if typ == wire.MsgConfig {
				var cfg initConfig
				_ = json.Unmarshal(payload, &cfg)
			}
		}
	})
}
