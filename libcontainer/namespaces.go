package libcontainer

import specs "github.com/opencontainers/runtime-spec/specs-go"

// namespace reports whether spec lists a namespace of type t, and whether
// that one is joined by path rather than new.
func namespace(spec *specs.Spec, t specs.LinuxNamespaceType) (present, joined bool) {
	if spec == nil || spec.Linux == nil {
		return false, false
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == t {
			return true, ns.Path != ""
		}
	}
	return false, false
}

// hasNamespace: the container has a namespace of type t, new or joined.
func hasNamespace(spec *specs.Spec, t specs.LinuxNamespaceType) bool {
	present, _ := namespace(spec, t)
	return present
}

// ownsNamespace: the container gets a new namespace of type t of its own.
func ownsNamespace(spec *specs.Spec, t specs.LinuxNamespaceType) bool {
	present, joined := namespace(spec, t)
	return present && !joined
}
