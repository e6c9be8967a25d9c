package libcontainer

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// selinuxfs is where an SELinux-enabled kernel's interface is mounted.
const selinuxfs = "/sys/fs/selinux"

// validateSELinux decides on SELinux labels. hull applies none, so on a
// host with SELinux both label fields are refused: a container must not
// silently run unlabelled. On a host without SELinux, process.selinuxLabel
// is refused as runc refuses it ("selinux is disabled or not supported"),
// since the process could not get the domain it asks for; linux.mountLabel
// is accepted and ignored, as crun does and as the conformance suite's
// linux_mount_label expects: without SELinux no file carries a label, so
// there is nothing to give the mounts and no confinement is lost (runc
// passes it on as a context= option, which the kernel rejects).
func validateSELinux(spec *specs.Spec) error {
	enabled := selinuxEnabled()
	why := "SELinux is disabled or not supported on this host (no selinuxfs at " + selinuxfs + ")"
	if enabled {
		why = "hull does not apply SELinux labels"
	}
	var errs []error
	if l := spec.Process.SelinuxLabel; l != "" {
		errs = append(errs, fmt.Errorf("process.selinuxLabel %q: %s", l, why))
	}
	if enabled && spec.Linux != nil && spec.Linux.MountLabel != "" {
		errs = append(errs, fmt.Errorf("linux.mountLabel %q: %s", spec.Linux.MountLabel, why))
	}
	return errors.Join(errs...)
}

func selinuxEnabled() bool {
	var fs unix.Statfs_t
	return unix.Statfs(selinuxfs, &fs) == nil && fs.Type == unix.SELINUX_MAGIC
}
