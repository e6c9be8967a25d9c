package seccomp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

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
// libseccomp version, so a stale entry is never used, only left unused.
type Cache struct {
	dir string
	bin string // identity of the compiling binary
}

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
	return &Cache{dir: dir, bin: bin}, nil
}

// Compile returns the filter's BPF (as MarshalBinary encodes it) from the
// cache, or compiles it and stores it.
func (c *Cache) Compile(profile *specs.LinuxSeccomp) ([]byte, error) {
	key, err := c.key(profile)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(c.dir, key)
	if data, err := os.ReadFile(path); err == nil {
		var f Filter
		if f.UnmarshalBinary(data) == nil {
			return data, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	f, err := Compile(profile)
	if err != nil {
		return nil, err
	}
	defer f.Release()
	data, err := f.MarshalBinary()
	if err != nil {
		return nil, err
	}
	c.store(path, data)
	return data, nil
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

// store writes atomically; a failure only costs the next compile.
func (c *Cache) store(path string, data []byte) {
	tmp, err := os.CreateTemp(c.dir, ".tmp-*")
	if err != nil {
		return
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(data)
	if cerr := tmp.Close(); werr == nil && cerr == nil {
		os.Rename(tmp.Name(), path)
	}
}

// LibraryVersion is the version of the libseccomp hull runs with
// ("2.5.4").
func LibraryVersion() string {
	maj, min, mic := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", maj, min, mic)
}
