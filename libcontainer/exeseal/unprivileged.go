package exeseal

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// startUnprivileged starts from a binary the container cannot write, for a
// caller without the right to make a mount namespace: the installed binary
// itself when the caller cannot write it either (the container is at most
// the caller), otherwise a sealed memfd copy, as runc does. exe is hull or,
// with isStage, hull-stage (whose copy is 0.7 MB, not 9).
func startUnprivileged(exe string, isStage bool, start func(Binary) error) error {
	if unix.Access(exe, unix.W_OK) != nil {
		return start(Binary{path: exe, Stage: isStage})
	}
	f, err := sealedCopy(exe)
	if err != nil {
		return err
	}
	defer f.Close()
	return start(Binary{file: f, Stage: isStage})
}

// sealedCopy copies exe into a memfd sealed against writes, growing and
// shrinking, so no one can change what the container's /proc/PID/exe shows.
func sealedCopy(exe string) (*os.File, error) {
	src, err := os.Open(exe)
	if err != nil {
		return nil, fmt.Errorf("open hull binary: %w", err)
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("hull", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd for hull binary: %w", err)
	}
	f := os.NewFile(uintptr(fd), "hull-memfd")
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil, fmt.Errorf("copy hull binary: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal hull binary copy: %w", err)
	}
	return f, nil
}
