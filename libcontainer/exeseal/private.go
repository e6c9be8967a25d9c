package exeseal

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// startPrivate runs start on a dedicated OS thread in a private mount
// namespace in which exe is read-only: the fallback where no overlay can be
// made. exe is hull or, with isStage, hull-stage: only the one started is
// bound. The thread is discarded afterwards, so no other goroutine ever
// runs in that namespace. A caller that may not make a mount namespace
// (rootless) starts in its own, from a binary it cannot write.
func startPrivate(exe string, isStage bool, start func(Binary) error) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the goroutine's exit then ends the thread, and
		// with it this thread's mount namespace.
		runtime.LockOSThread()
		err := sealOnThisThread(exe)
		if errors.Is(err, unix.EPERM) && os.Geteuid() != 0 {
			errc <- startUnprivileged(exe, isStage, start)
			return
		}
		if err != nil {
			errc <- err
			return
		}
		errc <- start(Binary{path: exe, Private: true, Stage: isStage})
	}()
	return <-errc
}

func sealOnThisThread(exe string) error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare mount namespace: %w", err)
	}
	// Slave, so the bind mount below cannot propagate to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make / rslave: %w", err)
	}
	if err := unix.Mount(exe, exe, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s: %w", exe, err)
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY)
	if err := unix.Mount("", exe, "", flags, ""); err != nil {
		return fmt.Errorf("remount %s read-only: %w", exe, err)
	}
	return nil
}
