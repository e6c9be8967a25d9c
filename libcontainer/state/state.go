// Package state keeps one directory per container under hull's --root: the
// container's state file, written atomically, and a lock that serialises
// commands on the same container. It also identifies a container's init
// process in a way that survives PID reuse.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/rawfile"
)

const stateFile = "state.json"

// markerFile tells hull's state directories from other runtimes' in a
// --root they share (Docker keeps runc's and hull's containers in one):
// runc's directories hold a state.json and an exec.fifo too.
const markerFile = ".hull"

// ErrNotExist is returned by Open for a container hull does not know.
var ErrNotExist = errors.New("does not exist")

// ErrForeign is returned by Open for a state directory another runtime
// made: hull neither reads nor deletes it.
var ErrForeign = errors.New("is not a hull container (its state directory belongs to another runtime)")

// validID: letters, digits and _+-. only. A loop, not a regexp: compiling
// one in a package variable cost every hull command 37 allocations at start.
func validID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// ValidateID rejects ids that could name a path outside --root.
func ValidateID(id string) error {
	switch {
	case id == "":
		return errors.New("container id: empty")
	case len(id) > 1024:
		return fmt.Errorf("container id %.32q...: longer than 1024 bytes", id)
	case id == "." || id == ".." || !validID(id):
		return fmt.Errorf("container id %q: invalid, use letters, digits and _+-. (no '/', not '.' or '..')", id)
	}
	return nil
}

// Dir is a container's locked state directory.
type Dir struct {
	ID   string
	path string
	lock *os.File
}

// Create makes and locks the state directory of a new container.
func Create(root, id string) (*Dir, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("state root %s: %w", root, err)
	}
	path := filepath.Join(root, id)
	if err := os.Mkdir(path, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("container %q already exists", id)
		}
		return nil, fmt.Errorf("state dir %s: %w", path, err)
	}
	d, err := lock(id, path, unix.LOCK_EX)
	if err == nil {
		err = writeMarker(path)
	}
	if err != nil {
		if d != nil {
			d.Close()
		}
		os.RemoveAll(path)
		return nil, err
	}
	return d, nil
}

func writeMarker(dir string) error {
	p := filepath.Join(dir, markerFile)
	fd, err := unix.Open(p, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("state dir %s: %w", dir, &os.PathError{Op: "open", Path: p, Err: err})
	}
	return unix.Close(fd)
}

// owned reports whether hull made the state directory: it holds the
// marker, or (made by a hull from before the marker) a state file with
// hull's own keys, which runc's state.json does not have, or nothing at
// all.
func owned(dir string) bool {
	if _, err := os.Lstat(filepath.Join(dir, markerFile)); err == nil {
		return true
	}
	if isEmptyDir(dir) {
		// A create killed between its mkdir and the marker: nothing in it
		// is anybody's, and delete must be able to remove it.
		return true
	}
	data, err := rawfile.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return false
	}
	var keys map[string]json.RawMessage
	if json.Unmarshal(data, &keys) != nil {
		return false
	}
	_, spec := keys["spec"]
	_, init := keys["init"]
	return spec && init
}

// isEmptyDir reports whether dir holds no entry at all.
func isEmptyDir(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	return len(names) == 0 && err == io.EOF
}

// Open locks an existing container's state directory; shared is for
// commands that only read. Those do not wait for a command that holds the
// lock for writing (a create can take as long as its hooks): the state
// file is replaced atomically, so reading it unlocked is safe, and a
// container still being created reads as "creating".
func Open(root, id string, shared bool) (*Dir, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	how := unix.LOCK_EX
	if shared {
		how = unix.LOCK_SH
	}
	path := filepath.Join(root, id)
	d, err := lock(id, path, how)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("container %q %w", id, ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	if !owned(path) {
		d.Close()
		return nil, fmt.Errorf("container %q (%s) %w", id, path, ErrForeign)
	}
	return d, nil
}

// lock opens the directory as a plain fd made an *os.File: os.OpenFile
// would first try to register it with the runtime's poller (four fcntl
// and epoll_ctl calls) for a file nobody waits on.
func lock(id, path string, how int) (*Dir, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	if how == unix.LOCK_SH {
		how |= unix.LOCK_NB
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil && !errors.Is(err, unix.EWOULDBLOCK) {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// A command that held the lock before us may have deleted the container.
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Nlink == 0 {
		f.Close()
		return nil, os.ErrNotExist
	}
	return &Dir{ID: id, path: path, lock: f}, nil
}

// Path is the directory's path.
func (d *Dir) Path() string { return d.path }

// File is the path of a file in the directory.
func (d *Dir) File(name string) string { return filepath.Join(d.path, name) }

// Write writes data as the state file, atomically: readers see the old
// or the new state, never a part. The caller encodes it (the container's
// state is encoded without reflection, libcontainer.encodeState).
//
// Plain system calls: os.CreateTemp would register the file with the
// runtime's poller (three to five calls), os.Rename stats the target
// first, and a deferred os.Remove of a name usually gone tried unlink and
// rmdir. Here: open, write, close, renameat2, and one unlink or rename.
func (d *Dir) Write(data []byte) error {
	tmp, fd, err := d.createTemp()
	if err != nil {
		return err
	}
	if err := writeAll(fd, data); err != nil {
		unix.Close(fd)
		unix.Unlink(tmp)
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := unix.Close(fd); err != nil {
		unix.Unlink(tmp)
		return &os.PathError{Op: "close", Path: tmp, Err: err}
	}
	exchanged, err := replace(tmp, d.File(stateFile))
	if err != nil || exchanged {
		// Failed: drop the new state. Exchanged: tmp holds the old one.
		unix.Unlink(tmp)
	}
	return err
}

// createTemp makes a new file for the next state, named as os.CreateTemp
// names it, with a plain fd.
func (d *Dir) createTemp() (string, int, error) {
	for try := 0; ; try++ {
		name := d.File(".state-" + strconv.FormatUint(uint64(rand.Uint32()), 10))
		fd, err := unix.Open(name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
		if err == nil {
			return name, fd, nil
		}
		if !errors.Is(err, unix.EEXIST) && !errors.Is(err, unix.EINTR) || try == 100 {
			return "", -1, &os.PathError{Op: "open", Path: name, Err: err}
		}
	}
}

func writeAll(fd int, data []byte) error {
	for len(data) > 0 {
		n, err := unix.Write(fd, data)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// replace puts file tmp in place of file dst atomically, and says whether
// it exchanged the two (tmp then names the old state, for the caller to
// unlink) rather than rename tmp over dst: on ext4 a rename over an
// existing file has the new file's blocks allocated at once
// (auto_da_alloc), which made that rename and the unlink at delete cost
// 0.2-0.5 ms each here, where a file never written back unlinks in 0.01
// ms. Readers see either file whole, as with rename. The first save
// (nothing to exchange with) and a file system without RENAME_EXCHANGE
// rename.
func replace(tmp, dst string) (exchanged bool, err error) {
	err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dst, unix.RENAME_EXCHANGE)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) {
		return false, &os.LinkError{Op: "renameat2 RENAME_EXCHANGE", Old: tmp, New: dst, Err: err}
	}
	if err := unix.Rename(tmp, dst); err != nil {
		return false, &os.LinkError{Op: "rename", Old: tmp, New: dst, Err: err}
	}
	return false, nil
}

// Load reads the state file into v; os.ErrNotExist means the container is
// still being created (or its creation was interrupted).
func (d *Dir) Load(v any) error {
	data, err := rawfile.ReadFile(d.File(stateFile))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", d.File(stateFile), err)
	}
	return nil
}

// Remove deletes the directory and releases the lock. It empties the
// directory through the lock's own descriptor, so that it works when no
// descriptor is left to open (a create that failed at its fd limit must
// not leave a phantom container behind).
func (d *Dir) Remove() error {
	err := d.empty()
	// rmdir, not os.Remove: that tries unlink first, one failed call.
	if rerr := unix.Rmdir(d.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		// A subdirectory (never made by hull) needs RemoveAll's fds.
		if rerr = os.RemoveAll(d.path); rerr != nil {
			err = errors.Join(err, fmt.Errorf("remove state dir %s: %w", d.path, rerr))
		}
	}
	d.Close()
	return err
}

// empty unlinks every file of the directory, relative to the lock's fd.
func (d *Dir) empty() error {
	if d.lock == nil {
		return nil
	}
	if _, err := d.lock.Seek(0, 0); err != nil {
		return fmt.Errorf("read state dir %s: %w", d.path, err)
	}
	names, err := d.lock.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read state dir %s: %w", d.path, err)
	}
	for _, n := range names {
		err := unix.Unlinkat(int(d.lock.Fd()), n, 0)
		if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EISDIR) {
			return fmt.Errorf("remove %s: %w", d.File(n), err)
		}
	}
	return nil
}

// Unlock releases the lock and keeps the directory open for Relock.
func (d *Dir) Unlock() {
	if d.lock != nil {
		unix.Flock(int(d.lock.Fd()), unix.LOCK_UN) //nolint:errcheck // fails only on a bad fd
	}
}

// Relock takes the exclusive lock again on the directory Unlock kept open.
// ErrNotExist: it was deleted meanwhile. A container made since under the
// same id has a directory of its own, so Relock never finds that one.
func (d *Dir) Relock() error {
	if d.lock == nil {
		return fmt.Errorf("container %q %w", d.ID, ErrNotExist)
	}
	fd := int(d.lock.Fd())
	for {
		err := unix.Flock(fd, unix.LOCK_EX)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("lock %s: %w", d.path, err)
		}
		break
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Nlink == 0 {
		d.Close()
		return fmt.Errorf("container %q %w", d.ID, ErrNotExist)
	}
	return nil
}

// Close releases the lock.
func (d *Dir) Close() {
	if d.lock != nil {
		d.lock.Close()
		d.lock = nil
	}
}

// List returns the ids of all hull containers under root, sorted; other
// runtimes' state directories there are left out.
func List(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && ValidateID(e.Name()) == nil && owned(filepath.Join(root, e.Name())) {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}
