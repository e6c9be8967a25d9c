package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestBindFlagsStayOnTheirMount: a host directory bound read-only (and
// nosuid, nodev) under a shared volume stays read-only while something
// swaps the destination with a symlink to another mount, as a process
// with the volume can (the CVE-2021-30465 threat model). A runtime that
// applies the flags by looking the destination up again after the bind
// sends them to the other mount and leaves the host directory writable:
// hull did, in about one create of eight. No runc control: Debian's runc
// 1.1.5 loses the flags this way too (about one create in twenty).
func TestBindFlagsStayOnTheirMount(t *testing.T) {
	t.Parallel()
	shared, hostRO := t.TempDir(), t.TempDir()
	vol := filepath.Join(shared, "vol")
	if err := os.Mkdir(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/shm", vol+".alt"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hostRO, "marker"), []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	probe := `for p in /data/vol /data/vol.alt; do [ -f $p/marker ] && touch $p/written 2>/dev/null; done; true`
	c := newContainer(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", probe}
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/data", Type: "bind", Source: shared, Options: []string{"rbind", "rw"}},
			specs.Mount{Destination: "/data/vol", Type: "bind", Source: hostRO, Options: []string{"rbind", "ro", "nosuid", "nodev"}})
	})
	c.privateRootfs()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				unix.Renameat2(unix.AT_FDCWD, vol, unix.AT_FDCWD, vol+".alt", unix.RENAME_EXCHANGE)
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	const attempts = 60
	ran := 0
	for i := 0; i < attempts; i++ {
		r := c.run()
		if r.Code == 0 {
			ran++
		} else if !strings.Contains(r.Stderr, "/data/vol") {
			t.Fatalf("attempt %d failed for another reason than the swapped destination: %s", i, r)
		}
		if _, err := os.Stat(filepath.Join(hostRO, "written")); err == nil {
			t.Fatalf("attempt %d: the container wrote into the host directory it has read-only at /data/vol", i)
		}
	}
	t.Logf("%d of %d creates ran (the others refused the swapped destination); the host directory stayed unwritten", ran, attempts)
	if ran == 0 {
		t.Errorf("no create ran: the race was never lost by the swapper, so nothing was shown")
	}
}
