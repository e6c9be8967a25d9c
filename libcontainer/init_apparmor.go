package libcontainer

import (
	"fmt"

	"github.com/hull-runtime/hull/libcontainer/apparmor"
)

// applyAppArmor sets the profile the kernel gives the program at execve
// (process.apparmorProfile, or exec --apparmor). Written now, as root and
// before any seccomp filter, so neither the dropped privileges nor the
// profile's filter can stand in the way; it takes effect only at execve,
// so nothing of hull's runs confined. A profile that is not loaded fails
// here, so create or exec reports it and leaves nothing behind.
func (p *initProcess) applyAppArmor() error {
	profile := p.spec.Process.ApparmorProfile
	if profile == "" {
		return nil
	}
	h, err := p.procfs()
	if err != nil {
		// The write needs the container's /proc, verified.
		return fmt.Errorf("process.apparmorProfile %q: %w", profile, err)
	}
	return apparmor.ApplyOnExec(h, "process.apparmorProfile", profile)
}
