package libcontainer

import (
	"github.com/opencontainers/runtime-spec/specs-go/features"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/libcontainer/apparmor"
	"github.com/hull-runtime/hull/libcontainer/capabilities"
	"github.com/hull-runtime/hull/libcontainer/process"
	"github.com/hull-runtime/hull/libcontainer/rootfs"
	"github.com/hull-runtime/hull/libcontainer/seccomp"
)

// Features describes what this build of hull really does, in the
// runtime-spec features.md format; each list comes from the package that
// implements it, so it cannot claim more than the code does.
func Features() *features.Features {
	yes, no := true, false
	// Enabled means applied: hull confines with the profile exactly when
	// the host runs AppArmor, and refuses the field otherwise.
	aaEnabled := apparmor.Enabled()
	actions, operators, archs, flags := seccomp.Supported()
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  rootfs.MountOptions(),
		Linux: &features.Linux{
			Namespaces:   []string{"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"},
			Capabilities: capabilities.Known(),
			Cgroup:       &features.Cgroup{V1: &yes, V2: &yes, Systemd: &yes, SystemdUser: &no, Rdma: &yes},
			Seccomp: &features.Seccomp{
				Enabled: &yes, Actions: actions, Operators: operators, Archs: archs,
				KnownFlags: flags, SupportedFlags: flags,
			},
			Apparmor:        &features.Apparmor{Enabled: &aaEnabled},
			Selinux:         &features.Selinux{Enabled: &no},
			IntelRdt:        &features.IntelRdt{Enabled: &no},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &yes}},
			NetDevices:      &features.NetDevices{Enabled: &yes},
			MemoryPolicy:    &features.MemoryPolicy{Modes: process.MemoryPolicyModes(), Flags: process.MemoryPolicyFlags()},
		},
		Annotations: map[string]string{
			// runc's key: engines read the library's version from it.
			AnnotationLibseccompVersion: seccomp.LibraryVersion(),
		},
	}
}

// AnnotationLibseccompVersion is the features annotation with the
// version of libseccomp hull is linked with, under runc's name for it.
const AnnotationLibseccompVersion = "io.github.seccomp.libseccomp.version"
