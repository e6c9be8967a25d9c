package libcontainer

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// selinuxfs is where an SELinux-enabled kernel's interface is mounted.
const selinuxfs = "/sys/fs/selinux"

// validateSELinux refuses SELinux labels, as runc does on a host without
// SELinux: runc rejects process.selinuxLabel there ("selinux is disabled or
// not supported") and passes linux.mountLabel as a context= mount option,
// which the kernel rejects, so its create fails either way. On a host with
// SELinux hull still refuses them: it does not apply labels, and a
// container must not silently run unlabelled.
func validateSELinux(spec *specs.Spec) error {
	why := "SELinux is disabled or not supported on this host (no selinuxfs at " + selinuxfs + ")"
	if selinuxEnabled() {
		why = "hull does not apply SELinux labels"
	}
	var errs []error
	if l := spec.Process.SelinuxLabel; l != "" {
		errs = append(errs, fmt.Errorf("process.selinuxLabel %q: %s", l, why))
	}
	if spec.Linux != nil && spec.Linux.MountLabel != "" {
		errs = append(errs, fmt.Errorf("linux.mountLabel %q: %s", spec.Linux.MountLabel, why))
	}
	return errors.Join(errs...)
}

func selinuxEnabled() bool {
	var fs unix.Statfs_t
	return unix.Statfs(selinuxfs, &fs) == nil && fs.Type == unix.SELINUX_MAGIC
}
