// Package exeseal starts hull's container processes from a hull binary that
// nothing in the container can write.
//
// A process inside the container can reach the binary of hull's init (or of
// an exec'd process, while hull sets it up) through /proc/PID/exe. Were that
// the installed hull, it could overwrite it and so run code as root on the
// host the next time hull runs (CVE-2019-5736). hull therefore starts those
// processes from a read-only bind mount of its own binary, made in a private
// mount namespace that only the starting thread and its children share: a
// write through /proc/PID/exe then fails with EROFS, and the container cannot
// remount it because the mount is in no namespace the container can enter.
//
// The caller must keep its main goroutine locked to the main thread
// (runtime.LockOSThread in an init function): a locked goroutine that ends on
// the main thread wedges it rather than ending it, and would leave the whole
// process looking, through /proc/self, as if it lived in the private namespace.
//
// This costs an unshare and two mounts (about 0.1 ms here), where copying
// the binary into a sealed memfd, as runc does, costs 3-6 ms per container.
package exeseal

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Start runs start on a dedicated OS thread in a private mount namespace in
// which the running hull binary, at path exe, is read-only. start must fork
// the child on the calling goroutine (os/exec's Cmd.Start does). The thread
// is discarded afterwards, so no other goroutine ever runs in that namespace.
// private is false when the caller may not make a mount namespace
// (rootless): start then runs in the caller's own, from a sealed copy.
func Start(start func(exe string, private bool) error) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find hull binary: %w", err)
	}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the goroutine's exit then ends the thread, and
		// with it this thread's mount namespace.
		runtime.LockOSThread()
		err := sealOnThisThread(exe)
		if errors.Is(err, unix.EPERM) && os.Geteuid() != 0 {
			errc <- startUnprivileged(exe, start)
			return
		}
		if err != nil {
			errc <- err
			return
		}
		errc <- start(exe, true)
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
