// Package apparmor confines a container's process with the AppArmor profile
// its config names (process.apparmorProfile, `exec --apparmor`), as runc
// does: the init writes "exec <profile>" into its own attr file, and the
// kernel moves the task into that profile at its next execve. Nothing of
// hull's own runs confined, and the program is confined from its first
// instruction.
package apparmor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libcontainer/procfs"
)

// Where the kernel tells whether AppArmor is enabled: the module parameter
// says whether it was enabled at boot, and securityfs shows the interface
// only when it is also an active LSM. runc requires both, and so does hull.
const (
	enabledParam = "module/apparmor/parameters/enabled"
	securityDir  = "kernel/security/apparmor"
)

// Enabled reports whether AppArmor is enabled on this host.
func Enabled() bool {
	return enabledUnder("/sys")
}

// enabledUnder is Enabled against a sysfs tree rooted at sys, so tests can
// use a fake one.
func enabledUnder(sys string) bool {
	if _, err := os.Stat(filepath.Join(sys, securityDir)); err != nil {
		return false
	}
	data, err := os.ReadFile(filepath.Join(sys, enabledParam))
	return err == nil && strings.HasPrefix(string(data), "Y")
}

// Validate checks a profile name before anything is created: the kernel
// parses the attr write as text, so a name with a NUL or a line break
// would be cut short or misread, and an empty one means "none".
func Validate(field, profile string) error {
	if profile == "" {
		return nil
	}
	if strings.ContainsAny(profile, "\x00\n") {
		return fmt.Errorf("%s %q: a profile name cannot contain NUL or a line break", field, profile)
	}
	if !Enabled() {
		return fmt.Errorf("%s %q: AppArmor is not enabled on this host (/sys/%s is not Y, or no /sys/%s)",
			field, profile, enabledParam, securityDir)
	}
	return nil
}

// The attr files, relative to the calling thread's /proc entry. Kernels
// since 5.8 have the AppArmor-specific one; "attr/exec" is shared by all
// LSMs and is what older kernels have.
var attrFiles = []string{"attr/apparmor/exec", "attr/exec"}

// ApplyOnExec asks the kernel to confine the calling thread with profile
// from its next execve on. The write goes through h, a verified procfs, to
// the thread's own attr file (thread-self: the caller must be locked to
// the thread that will exec), so a container that over-mounted parts of
// its /proc cannot make it land elsewhere.
func ApplyOnExec(h *procfs.Handle, field, profile string) error {
	if profile == "" {
		return nil
	}
	f, err := openAttr(h)
	if err != nil {
		return fmt.Errorf("%s %q: %w", field, profile, err)
	}
	defer f.Close()
	// One write: the kernel parses each write(2) on its own.
	if _, err := f.Write([]byte("exec " + profile)); err != nil {
		return fmt.Errorf("%s %q: %s", field, profile, refusal(err))
	}
	return nil
}

// openAttr opens the first attr file this kernel has.
func openAttr(h *procfs.Handle) (*os.File, error) {
	var err error
	for _, name := range attrFiles {
		var f *os.File
		f, err = h.OpenFile("thread-self/"+name, unix.O_WRONLY)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, unix.ENOENT) {
			return nil, err
		}
	}
	return nil, err
}

// refusal explains the kernel's answer to the attr write.
func refusal(err error) string {
	switch {
	case errors.Is(err, unix.ENOENT):
		return "no such AppArmor profile is loaded (see /sys/kernel/security/apparmor/profiles)"
	case errors.Is(err, unix.EINVAL):
		return "refused by the kernel: AppArmor is not the LSM handling this attribute, or the name is malformed (" + err.Error() + ")"
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return "refused by AppArmor: the current confinement does not allow changing to it (" + err.Error() + ")"
	}
	return "apply: " + err.Error()
}
