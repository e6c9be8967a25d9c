package procfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// resolveFlags keep every lookup inside the procfs mount and refuse all
// symlinks, magic links included.
const resolveFlags = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_XDEV

// openBeneath opens rel below h with openat2, falling back to a
// component-by-component walk on kernels without openat2 (< 5.6).
func (h *Handle) openBeneath(rel string, flags int) (int, error) {
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolveFlags}
	fd, err := unix.Openat2(int(h.root.Fd()), rel, &how)
	if err == nil {
		return fd, nil
	}
	if !errors.Is(err, unix.ENOSYS) {
		return -1, err
	}
	return h.walk(rel, flags)
}

// walk resolves rel one component at a time with O_NOFOLLOW, verifying each
// intermediate directory is still on h's procfs mount. It is the openat2
// fallback and gives the same guarantees for an already-clean path.
func (h *Handle) walk(rel string, flags int) (int, error) {
	parts := strings.Split(rel, "/")
	dir := int(h.root.Fd())
	for i, p := range parts {
		last := i == len(parts)-1
		f := unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
		if last {
			f = flags | unix.O_NOFOLLOW | unix.O_CLOEXEC
		}
		fd, err := unix.Openat(dir, p, f, 0)
		if dir != int(h.root.Fd()) {
			unix.Close(dir)
		}
		if err != nil {
			return -1, err
		}
		if !last {
			if err := h.verify(fd, p); err != nil {
				unix.Close(fd)
				return -1, err
			}
		}
		dir = fd
	}
	return dir, nil
}

// WriteFile writes data to rel in a single write(2), as procfs files parse
// one write at a time.
func (h *Handle) WriteFile(rel string, data []byte) error {
	f, err := h.OpenFile(rel, unix.O_WRONLY)
	if err != nil {
		return err
	}
	n, err := f.Write(data)
	if err == nil && n != len(data) {
		err = io.ErrShortWrite
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("procfs: write %q to /proc/%s: %w", data, rel, err)
	}
	return nil
}

// ReadFile reads the whole of rel.
func (h *Handle) ReadFile(rel string) ([]byte, error) {
	f, err := h.OpenFile(rel, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("procfs: read /proc/%s: %w", rel, err)
	}
	return data, nil
}

// OpenSelfFD re-opens this process's file descriptor fd through the magic
// link /proc/self/fd/<fd> with new flags (e.g. to turn an O_PATH fd into a
// readable one). The magic link must be followed, so only the "self/fd"
// directory is resolved with the strict rules; the last step is a plain
// openat on that verified directory, and the result is checked to be the
// same inode as fd so nothing mounted in between can substitute a file.
func (h *Handle) OpenSelfFD(fd int, flags int) (*os.File, error) {
	name := "/proc/self/fd/" + strconv.Itoa(fd)
	dir, err := h.OpenFile("self/fd", unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	nfd, err := unix.Openat(int(dir.Fd()), strconv.Itoa(fd), flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("procfs: open %s: %w", name, err)
	}
	f := os.NewFile(uintptr(nfd), name)
	if err := sameInode(fd, nfd); err != nil {
		f.Close()
		return nil, fmt.Errorf("procfs: open %s: %w", name, err)
	}
	return f, nil
}

func sameInode(a, b int) error {
	var sa, sb unix.Stat_t
	if err := unix.Fstat(a, &sa); err != nil {
		return err
	}
	if err := unix.Fstat(b, &sb); err != nil {
		return err
	}
	if sa.Dev != sb.Dev || sa.Ino != sb.Ino {
		return fmt.Errorf("reopened file is %d:%d, want %d:%d", sb.Dev, sb.Ino, sa.Dev, sa.Ino)
	}
	return nil
}
