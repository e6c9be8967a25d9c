// Package exeseal starts hull's container processes from a hull binary that
// nothing in the container can write.
//
// A process inside the container can reach the binary of hull's init (or of
// an exec'd process, while hull sets it up) through /proc/PID/exe. Were that
// the installed hull, it could overwrite it and so run code as root on the
// host the next time hull runs (CVE-2019-5736). hull therefore starts those
// processes from the binary as seen through a detached, lower-only overlayfs
// mount (overlay.go): such an overlay is read-only in its superblock, so no
// mount flag, remount or mount_setattr can make it writable, and as a
// detached mount it sits in no mount namespace at all. Where the kernel
// cannot make one (no fsopen or overlayfs, or no right to mount), the
// processes start from a read-only bind mount of the binary made in a
// private mount namespace (private.go), and without the right to make a
// mount namespace either, from a sealed copy (unprivileged.go). hull-stage,
// the C stage as a program of its own beside hull, is started through each
// of these the same way.
//
// The caller must keep its main goroutine locked to the main thread
// (runtime.LockOSThread in an init function): the private namespace's
// thread is discarded afterwards, and a locked goroutine that ends on the
// main thread wedges it rather than ending it, leaving the whole process
// looking, through /proc/self, as if it lived in the private namespace.
package exeseal

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Binary is the hull binary a container process starts from.
type Binary struct {
	// file is the binary through the read-only overlay, or nil: then path
	// is what to execute.
	file *os.File
	path string
	// Private is set when the process starts in exeseal's private mount
	// namespace, which it must leave for the caller's (by its path, taken
	// before Start) before it makes or joins any other.
	Private bool
	// Stage is set when the binary is the program Start was asked to
	// prefer (hull-stage), not hull's own.
	Stage bool
}

// Name is the binary's path on the host, for messages: the path Files
// returns may be /proc/self/fd/N.
func (b Binary) Name() string {
	if b.file != nil {
		return b.file.Name()
	}
	return b.path
}

// Files returns the path to execute the binary by, for a child that gets
// files from fd 3 on, and the files it must get. The overlay's file is
// passed as the last of them and executed through /proc/self/fd: Go moves
// fds about in the child before it execs, so any other fd number might by
// then name another file (golang/go#61751). The child inherits that fd;
// hull's init and finisher mark every fd above the preserved ones
// close-on-exec, so it never reaches the container's program.
func (b Binary) Files(files []*os.File) (string, []*os.File) {
	if b.file == nil {
		return b.path, files
	}
	files = append(files, b.file)
	return "/proc/self/fd/" + strconv.Itoa(3+len(files)-1), files
}

// Start calls start with the binary to start a container process from;
// start must fork that process on the calling goroutine (os/exec's
// Cmd.Start does). layer is an existing directory outside the binary's
// own (hull's state root): a lower-only overlay needs two lower layers, and
// the binary's directory is the upper of them, so nothing in layer can
// stand in for the binary.
//
// stage, when not empty, names a program beside hull's binary (hull-stage)
// to start instead, sealed the same way; where it is not there as an
// executable file, the binary is hull's own (Binary.Stage says which).
func Start(layer, stage string, start func(Binary) error) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find hull binary: %w", err)
	}
	f, mnt, isStage, err := overlayBinary(exe, stage, layer)
	if err == nil {
		defer f.Close()
		defer unix.Close(mnt)
		return start(Binary{file: f, Stage: isStage})
	}
	path, isStage := exe, false
	if stage != "" {
		if p := filepath.Join(filepath.Dir(exe), stage); isExecutable(p) {
			path, isStage = p, true
		}
	}
	return startPrivate(path, isStage, start)
}

// isExecutable: a regular file with an execute bit, not followed through
// a symlink (as the overlay's O_NOFOLLOW open would not): a hull-stage
// installed as a symlink is not used, and hull starts itself.
func isExecutable(path string) bool {
	var st unix.Stat_t
	return unix.Lstat(path, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o111 != 0
}
