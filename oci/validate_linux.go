package oci

import (
	"errors"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// validateLinux holds the rules of runtime-tools' CheckLinux that hull's
// other checks do not cover, in hull's words (field and value named).
// hull used to call runtime-tools' validator for them; it is kept out of
// the runtime's binary because its package pulls in gojsonschema, net/http
// and text/template, whose package inits cost every hull command about
// 1.5 ms. validate_rt_test.go runs both on the same specs so no rule is
// lost.
func validateLinux(l *specs.Linux) error {
	if l == nil {
		return nil
	}
	fresh := newNamespaces(l.Namespaces)
	// Not runtime-tools' rule that net.* and fs.mqueue.* sysctls need new
	// namespaces: runc and crun set them in joined ones too, which engines
	// send every day (podman's and containerd's pods join a network
	// namespace they made, by path). libcontainer judges sysctls.
	errs := []error{validateMappings(l, fresh)}
	if l.Resources != nil {
		errs = append(errs, validateResources(l.Resources))
	}
	errs = append(errs, validateAbsolute("linux.maskedPaths", l.MaskedPaths), validateAbsolute("linux.readonlyPaths", l.ReadonlyPaths))
	if strings.Contains(l.MountLabel, "z") && strings.Contains(l.MountLabel, "Z") {
		errs = append(errs, fmt.Errorf("linux.mountLabel %q: z (shared) and Z (private) relabelling exclude each other", l.MountLabel))
	}
	return errors.Join(errs...)
}

// newNamespaces is the set of namespace types the container gets new
// (listed without a path).
func newNamespaces(nss []specs.LinuxNamespace) map[specs.LinuxNamespaceType]bool {
	fresh := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range nss {
		if ns.Path == "" {
			fresh[ns.Type] = true
		}
	}
	return fresh
}

// validateMappings: id mappings are written for a user namespace the
// runtime creates; a joined one has its mappings already.
func validateMappings(l *specs.Linux, fresh map[specs.LinuxNamespaceType]bool) error {
	if fresh[specs.UserNamespace] {
		return nil
	}
	field := "linux.uidMappings"
	if len(l.UIDMappings) == 0 {
		if len(l.GIDMappings) == 0 {
			return nil
		}
		field = "linux.gidMappings"
	}
	return fmt.Errorf("%s: needs a new user namespace in linux.namespaces (one without a path); a joined one is mapped already", field)
}

func validateResources(r *specs.LinuxResources) error {
	var errs []error
	if m := r.Memory; m != nil {
		// Compared unsigned, as runtime-tools does: -1 (unlimited) is the
		// largest value.
		// Swap 0 is unset (runc's reading; Docker and podman send it), and
		// a reservation above the limit is the kernel's to take, as runc
		// writes it: runtime-tools refuses both, runc and crun neither.
		if m.Limit != nil && m.Swap != nil && *m.Swap != 0 && uint64(*m.Limit) > uint64(*m.Swap) {
			errs = append(errs, fmt.Errorf("linux.resources.memory.swap %d: must not be below memory.limit %d (swap counts memory plus swap)", *m.Swap, *m.Limit))
		}
	}
	for i, d := range r.Devices {
		switch d.Type {
		case "a", "b", "c", "":
		default:
			errs = append(errs, fmt.Errorf("linux.resources.devices[%d].type %q: must be a, b or c", i, d.Type))
		}
		if strings.Trim(d.Access, "rwm") != "" {
			errs = append(errs, fmt.Errorf("linux.resources.devices[%d].access %q: only r, w and m", i, d.Access))
		}
	}
	if r.BlockIO != nil {
		for i, w := range r.BlockIO.WeightDevice {
			if w.Weight == nil && w.LeafWeight == nil {
				errs = append(errs, fmt.Errorf("linux.resources.blockIO.weightDevice[%d] (%d:%d): gives neither weight nor leafWeight", i, w.Major, w.Minor))
			}
		}
	}
	return errors.Join(errs...)
}

// validateAbsolute wants every path to start with "/".
func validateAbsolute(field string, paths []string) error {
	var errs []error
	for i, p := range paths {
		if !strings.HasPrefix(p, "/") {
			errs = append(errs, fmt.Errorf("%s[%d] %q: must be an absolute path", field, i, p))
		}
	}
	return errors.Join(errs...)
}
