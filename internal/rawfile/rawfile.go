// Package rawfile reads small files with plain system calls.
//
// os.Open and os.ReadFile first try to register every file with the Go
// runtime's poller: on the first file of a process that sets the poller
// up (epoll_create1, an eventfd, epoll_ctl), and for each file it costs
// two to four fcntl and one or two epoll_ctl calls, and for a pollable
// one (/proc, /sys) it makes later reads go through the poller. hull's
// commands read config.json, state.json and a few /proc files, none of
// which ever blocks: with this package `hull run` and its kin never set
// the poller up.
package rawfile

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// ReadFile reads the whole file at path as os.ReadFile does (sized by
// fstat, growing for /proc files that report size 0) and fails the same
// way: an *os.PathError of "open" or "read", so errors.Is(err,
// os.ErrNotExist) and the message are os.ReadFile's.
func ReadFile(path string) ([]byte, error) {
	fd, err := open(path)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	size := 512
	var st unix.Stat_t
	if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size > 0 && st.Size < 1<<30 {
		size = int(st.Size) + 1 // one more: the end is the read that returns 0
	}
	return readAll(fd, path, make([]byte, 0, size))
}

// ReadSmall reads a file known to be small (a line of /proc/PID/stat, a
// sysctl) into a buffer of n bytes first, without the fstat.
func ReadSmall(path string, n int) ([]byte, error) {
	fd, err := open(path)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	return readAll(fd, path, make([]byte, 0, n))
}

// ReadFD reads what is left of an open fd, named path in errors, until
// read(2) returns 0 (a short read does not end a seq_file), for callers
// that open the file their own way.
func ReadFD(fd int, path string) ([]byte, error) {
	return readAll(fd, path, make([]byte, 0, 512))
}

func open(path string) (int, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return fd, nil
	}
}

func readAll(fd int, path string, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		case n == 0:
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}
