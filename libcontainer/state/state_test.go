package state

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestValidateID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"abc", true},
		{"a.b-c_d+e", true},
		{strings.Repeat("x", 1024), true},
		{"", false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{"../escape", false},
		{"sp ace", false},
		{strings.Repeat("x", 1025), false},
	} {
		err := ValidateID(tc.id)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateID(%.20q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
	}
}

func TestCreateOpenSaveLoad(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	d, err := Create(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Create(root, "c1"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second Create: %v, want 'already exists'", err)
	}
	type saved struct{ N int }
	if err := d.Load(&saved{}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load before Save: %v, want ErrNotExist (creating)", err)
	}
	if err := d.Write(mustJSON(t, saved{N: 7})); err != nil {
		t.Fatal(err)
	}
	d.Close()
	d2, err := Open(root, "c1", true)
	if err != nil {
		t.Fatal(err)
	}
	var got saved
	if err := d2.Load(&got); err != nil || got.N != 7 {
		t.Fatalf("Load = %+v, %v", got, err)
	}
	entries, _ := os.ReadDir(d2.Path())
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".state-") {
			t.Errorf("temp file %s left behind", e.Name())
		}
	}
	if err := d2.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(root, "c1", false); !errors.Is(err, ErrNotExist) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Open after Remove: %v, want 'does not exist'", err)
	}
	if ids, _ := List(root); len(ids) != 0 {
		t.Fatalf("List after Remove = %v", ids)
	}
}

// A command that waited for the lock while another deleted the container
// must see it gone, not a directory that no longer exists on disk.
func TestOpenAfterConcurrentRemove(t *testing.T) {
	root := t.TempDir()
	d, err := Create(root, "c2")
	if err != nil {
		t.Fatal(err)
	}
	opened := make(chan error, 1)
	go func() {
		d2, err := Open(root, "c2", false)
		if err == nil {
			d2.Close()
		}
		opened <- err
	}()
	if err := d.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := <-opened; err == nil {
		t.Fatal("Open succeeded on a container removed while it waited")
	}
}

func TestExclusiveLock(t *testing.T) {
	root := t.TempDir()
	d, err := Create(root, "c3")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	f, err := os.Open(d.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatalf("shared lock while Create holds it: %v, want EWOULDBLOCK", err)
	}
}

func TestProcessIdentity(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	p, err := NewProcess(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Alive() {
		t.Fatal("running process not Alive")
	}
	reused := Process{Pid: p.Pid, StartTime: p.StartTime + 1}
	if reused.Alive() {
		t.Fatal("a different start time must not count as the same process")
	}
	if err := reused.Signal(unix.SIGKILL); !errors.Is(err, ErrExited) {
		t.Fatalf("Signal to a reused pid: %v, want ErrExited", err)
	}
	if err := p.Signal(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	status, err := p.WaitChild()
	if err != nil || status != 128+int(unix.SIGTERM) {
		t.Fatalf("WaitChild = %d, %v; want %d", status, err, 128+int(unix.SIGTERM))
	}
	if p.Alive() {
		t.Fatal("reaped process still Alive")
	}
}

// TestSharedDoesNotWaitForWriter: state and list must not hang behind a
// create that holds the lock while its hooks run.
func TestSharedDoesNotWaitForWriter(t *testing.T) {
	root := t.TempDir()
	d, err := Create(root, "c4")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	done := make(chan error, 1)
	go func() {
		r, err := Open(root, "c4", true)
		if err == nil {
			r.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a shared Open waited for the writer")
	}
}

// TestForeignDirs: in a --root shared with runc, hull lists, opens and
// deletes only its own state directories.
func TestForeignDirs(t *testing.T) {
	root := t.TempDir()
	write := func(id, name, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(root, id), 0o700); err != nil {
			t.Fatal(err)
		}
		if name != "" {
			if err := os.WriteFile(filepath.Join(root, id, name), []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	// runc's state.json keys (libcontainer's State), and a runc container
	// still being created (no state.json yet).
	write("runc1", "state.json", `{"id":"runc1","init_process_pid":42,"config":{}}`)
	write("runc2", "exec.fifo", "")
	write("junk", "state.json", `not json`)
	// A hull container from before the marker: hull's own keys.
	write("old", "state.json", `{"id":"old","init":{"pid":0},"spec":null}`)
	// A hull create killed between its mkdir and the marker.
	write("killed", "", "")
	d, err := Create(root, "new")
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	ids, err := List(root)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ids, ",") != "killed,new,old" {
		t.Errorf("List = %v, want [killed new old]", ids)
	}
	for _, id := range []string{"runc1", "runc2", "junk"} {
		for _, shared := range []bool{true, false} {
			_, err := Open(root, id, shared)
			if !errors.Is(err, ErrForeign) || !strings.Contains(err.Error(), id) {
				t.Errorf("Open(%s, shared=%v) = %v, want ErrForeign naming it", id, shared, err)
			}
		}
	}
	for _, id := range []string{"killed", "new", "old"} {
		d, err := Open(root, id, false)
		if err != nil {
			t.Fatalf("Open(%s): %v", id, err)
		}
		d.Close()
	}
}

// TestSaveReplaces: a later Save replaces the state whole (by exchange
// where the file system has it, by rename for the first save), leaves no
// temp file, and a reader holding the old file keeps reading the old
// state, never a mix.
func TestSaveReplaces(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	d, err := Create(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Remove()
	type saved struct{ N int }
	if err := d.Write(mustJSON(t, saved{N: 1})); err != nil {
		t.Fatal(err)
	}
	old, err := os.Open(d.File(stateFile))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	for n := 2; n <= 3; n++ {
		if err := d.Write(mustJSON(t, saved{N: n})); err != nil {
			t.Fatal(err)
		}
		var got saved
		if err := d.Load(&got); err != nil || got.N != n {
			t.Fatalf("Load after Save(%d) = %+v, %v", n, got, err)
		}
	}
	buf := make([]byte, 64)
	if k, _ := old.Read(buf); string(buf[:k]) != `{"N":1}` {
		t.Errorf("the old file now reads %q, want the old state whole", buf[:k])
	}
	names, _ := os.ReadDir(d.Path())
	for _, e := range names {
		if e.Name() != stateFile && e.Name() != markerFile {
			t.Errorf("left in the state dir: %s", e.Name())
		}
	}
}

func TestReplaceMissing(t *testing.T) {
	dir := t.TempDir()
	exchanged, err := replace(filepath.Join(dir, "nope"), filepath.Join(dir, "dst"))
	if !errors.Is(err, os.ErrNotExist) || exchanged {
		t.Fatalf("replace of a missing file: %v, want ErrNotExist", err)
	}
	if _, serr := os.Stat(filepath.Join(dir, "dst")); !errors.Is(serr, os.ErrNotExist) {
		t.Fatalf("dst made: %v", serr)
	}
}

// TestWriteFails: a Write that cannot make its file fails naming it and
// leaves nothing; the state before it stays.
func TestWriteFails(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	d, err := Create(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Remove()
	if err := d.Write([]byte(`{"N":1}`)); err != nil {
		t.Fatal(err)
	}
	gone := *d
	gone.path = filepath.Join(root, "missing")
	err = gone.Write([]byte(`{"N":2}`))
	var pe *os.PathError
	if !errors.As(err, &pe) || !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(pe.Path, gone.path+"/.state-") {
		t.Fatalf("Write into a missing dir: %v, want an open error naming the temp file", err)
	}
	if _, err := os.Stat(gone.path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Write made %s: %v", gone.path, err)
	}
	if data, err := os.ReadFile(d.File(stateFile)); err != nil || string(data) != `{"N":1}` {
		t.Errorf("state after the failed write: %q, %v", data, err)
	}
}

// TestRelock: Relock takes the lock again on the directory Unlock kept
// open; while unlocked, other commands can lock it; deleted meanwhile, it
// is ErrNotExist, also when a new container took the same id since.
func TestRelock(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	d, err := Create(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.Unlock()
	other, err := Open(root, "c1", false)
	if err != nil {
		t.Fatalf("Open while unlocked: %v", err)
	}
	other.Close()
	if err := d.Relock(); err != nil {
		t.Fatalf("Relock: %v", err)
	}
	if fd, err := unix.Open(d.Path(), unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		t.Fatal(err)
	} else {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		unix.Close(fd)
		if !errors.Is(err, unix.EWOULDBLOCK) {
			t.Fatalf("lock after Relock: %v, want EWOULDBLOCK (held)", err)
		}
	}
	d.Unlock()
	gone, err := Open(root, "c1", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := gone.Remove(); err != nil {
		t.Fatal(err)
	}
	again, err := Create(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	defer again.Remove()
	again.Close()
	if err := d.Relock(); !errors.Is(err, ErrNotExist) {
		t.Fatalf("Relock of a deleted container whose id was taken again: %v, want ErrNotExist", err)
	}
	if _, err := os.Stat(again.Path()); err != nil {
		t.Fatalf("the new container's directory: %v", err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
