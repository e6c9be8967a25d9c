package nspawnconv

import (
	"path/filepath"
	"strings"
)

// Registration modes of the register hook (--register=).
const (
	RegisterAuto = "auto" // when systemd-machined is reachable (hull's default)
	RegisterYes  = "yes"  // fail when the machine cannot be registered
)

// setupRegistration adds the hooks that make the machine known to
// systemd-machined while it runs, as nspawn registers itself: createRuntime
// registers it (after the links exist, so their host ends are its network
// interfaces), poststop unregisters it. As hooks they work under any
// runtime. Args: MODE NAME UUID ROOT SLICE KEEP-UNIT [HOST-IF…]
// [--property=NAME=VALUE…]; the properties go on the scope CreateMachine
// makes, so they are unused when the machine keeps a unit (as in nspawn).
func (cv *converter) setupRegistration() error {
	s := cv.s
	if s.Register != nil && !*s.Register {
		return nil
	}
	mode := RegisterAuto
	if s.Register != nil {
		mode = RegisterYes
	}
	if cv.o.Rootless != nil {
		// machined registers machines for root only (polkit's
		// org.freedesktop.machine1.register-machine: auth_admin).
		if mode == RegisterYes {
			return &RefusedError{Key: "--register=yes", Reason: "registering with systemd-machined needs root; an unprivileged machine runs unregistered"}
		}
		return nil
	}
	keep := "no"
	if s.KeepUnit {
		keep = "yes"
	}
	// The directory as given, not where the caller made it reachable
	// (Options.Rootfs): machinectl shows this path.
	root := cv.root
	if abs, err := filepath.Abs(s.Directory); err == nil && s.Directory != "" {
		root = abs
	}
	args := []string{mode, cv.c.MachineName, strings.ReplaceAll(cv.c.UUID, "-", ""), root, s.Slice, keep}
	args = append(args, cv.hostInterfaces()...)
	for _, p := range cv.s.Properties {
		sp, err := scopeProperty(p)
		if err != nil {
			return err
		}
		args = append(args, "--property="+sp)
	}
	cv.hook("createRuntime", "register", "--register="+mode, args...)
	cv.hook("poststop", "unregister", "--register="+mode, cv.c.MachineName)
	return nil
}

// hostInterfaces are the host ends of the machine's veth links, which
// machined lists as the machine's interfaces.
func (cv *converter) hostInterfaces() []string {
	var out []string
	for _, h := range cv.c.Hooks {
		if h.Action == "add-veth" && len(h.Args) >= 2 {
			out = append(out, h.Args[1])
		}
	}
	return out
}
