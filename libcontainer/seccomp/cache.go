package seccomp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Cache keeps compiled filters on disk. Engines give every container the
// same profile, and libseccomp needs about 15 ms to compile a typical one
// (some 380 rules), a third of a container's start; loading the cached BPF
// takes a file read.
//
// A cached program is keyed by the profile, the compiling binary (its size
// and modification time: a new hull may compile differently) and the
// libseccomp version, so a stale entry is never used, only left unused
// until it is evicted: the cache keeps the maxEntries most recently used.
type Cache struct {
	dir string
	bin string // identity of the compiling binary
	max int    // entries kept (maxEntries)
}

// maxEntries bounds the cache, which is memory on a host whose /run is a
// tmpfs. An entry is one BPF program: 7.9 KB for an engine's default
// profile, 9.6 KB for nspawn's (2–3 pages of tmpfs), 32 KB at most (the
// kernel's 4096 instructions). A host uses a few profiles (each engine's
// default, some of its own), and each hull or libseccomp upgrade keys them
// anew, so the last version's entries must age out: 64 keep every profile
// in use with room for that turnover, in under 0.8 MB of tmpfs (2.3 MB at
// worst).
const maxEntries = 64

// refreshAfter: a hit marks its entry used (its mtime) only when it was
// marked longer ago than this, so that back-to-back starts with one
// profile pay no extra system call; the eviction order is that coarse.
const refreshAfter = time.Minute

// staleTemp: a temporary file this old is a writer's that died between
// writing it and renaming it into place.
const staleTemp = time.Hour

// NewCache uses dir, which it creates root-only; a directory anyone else
// can write is refused, since a planted program would widen the filter.
func NewCache(dir string) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Uid != uint32(os.Geteuid()) || st.Mode&0o022 != 0 {
		return nil, fmt.Errorf("seccomp cache %s: not a directory owned by us and closed to others", dir)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return nil, err
	}
	maj, min, mic := libseccomp.GetLibraryVersion()
	bin := fmt.Sprintf("%s %d %d libseccomp %d.%d.%d %s", exe, fi.Size(), fi.ModTime().UnixNano(), maj, min, mic, runtime.GOARCH)
	return &Cache{dir: dir, bin: bin, max: maxEntries}, nil
}

// Compile returns the filter's BPF (as MarshalBinary encodes it) from the
// cache, or compiles it and stores it.
func (c *Cache) Compile(profile *specs.LinuxSeccomp) ([]byte, error) {
	data, _, err := c.compile(profile)
	return data, err
}

// compile is Compile, and whether the program came from the cache.
func (c *Cache) compile(profile *specs.LinuxSeccomp) ([]byte, bool, error) {
	key, err := c.key(profile)
	if err != nil {
		return nil, false, err
	}
	path := filepath.Join(c.dir, key)
	// An entry missing, unreadable or corrupt is a miss: the cache makes a
	// start slower or faster, never fail.
	if data, err := readEntry(path); err == nil {
		var f Filter
		if f.UnmarshalBinary(data) == nil {
			return data, true, nil
		}
	}
	f, err := Compile(profile)
	if err != nil {
		return nil, false, err
	}
	defer f.Release()
	data, err := f.MarshalBinary()
	if err != nil {
		return nil, false, err
	}
	if c.store(path, data) {
		c.evict(time.Now())
	}
	return data, false, nil
}

// readEntry reads a cached program and marks it used. An entry another
// hull evicts meanwhile is either not found (a miss) or read whole: its
// name goes, the open file stays.
func readEntry(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size > headerLen+insnLen*bpfMaxInsns {
		return nil, fmt.Errorf("seccomp cache entry %s: not a program (mode %#o, %d bytes)", path, st.Mode, st.Size)
	}
	data := make([]byte, st.Size)
	n, err := unix.Read(fd, data)
	if err != nil {
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	}
	// A mark in the future (the clock was set back) is refreshed too:
	// else the entry would sort as the newest until the clock caught up.
	if age := time.Since(time.Unix(st.Mtim.Unix())); age > refreshAfter || age < -refreshAfter {
		// futimens(fd, NULL): now. Failing only ages the entry.
		unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, 0, 0, 0, 0)
	}
	return data[:n], nil
}

func (c *Cache) key(profile *specs.LinuxSeccomp) (string, error) {
	js, err := json.Marshal(profile)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte(c.bin))
	h.Write([]byte{0})
	h.Write(js)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// store writes atomically and reports whether it did; a failure only
// costs the next compile.
func (c *Cache) store(path string, data []byte) bool {
	tmp, err := os.CreateTemp(c.dir, tempPrefix+"*")
	if err != nil {
		return false
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(data)
	if cerr := tmp.Close(); werr != nil || cerr != nil {
		return false
	}
	return os.Rename(tmp.Name(), path) == nil
}

const tempPrefix = ".tmp-"

// evict removes the least recently used entries beyond c.max, and
// temporary files left by writers that died. Concurrent hulls may evict
// at once, or use an entry being evicted: that costs a compile, never a
// wrong program (a program's name is its key, and entries are only ever
// renamed into place whole) nor an error (what is gone is gone).
func (c *Cache) evict(now time.Time) {
	names, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	type entry struct {
		name  string
		mtime time.Time
	}
	var entries []entry
	for _, d := range names {
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		if strings.HasPrefix(d.Name(), tempPrefix) {
			if now.Sub(info.ModTime()) > staleTemp {
				os.Remove(filepath.Join(c.dir, d.Name()))
			}
			continue
		}
		entries = append(entries, entry{d.Name(), info.ModTime()})
	}
	if len(entries) <= c.max {
		return
	}
	slices.SortFunc(entries, func(a, b entry) int { return a.mtime.Compare(b.mtime) })
	for _, e := range entries[:len(entries)-c.max] {
		os.Remove(filepath.Join(c.dir, e.name))
	}
}

// LibraryVersion is the version of the libseccomp hull runs with
// ("2.5.4").
func LibraryVersion() string {
	maj, min, mic := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", maj, min, mic)
}
