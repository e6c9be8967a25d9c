package seccomp

import (
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Supported lists the actions, operators, architectures and flags hull
// accepts in linux.seccomp, for `hull features`.
func Supported() (actions, operators, archs, flags []string) {
	for a := range knownActions {
		actions = append(actions, string(a))
	}
	for o := range knownOps {
		operators = append(operators, string(o))
	}
	for a := range knownArchs {
		if !unsupportedArch(a) {
			archs = append(archs, string(a))
		}
	}
	for f := range knownFlags {
		flags = append(flags, string(f))
	}
	for _, l := range [][]string{actions, operators, archs, flags} {
		sort.Strings(l)
	}
	return actions, operators, archs, flags
}

// unsupportedArch: libseccomp 2.5 (Debian 12) cannot build filters for these.
func unsupportedArch(a specs.Arch) bool {
	switch a {
	case specs.ArchLOONGARCH64, specs.ArchM68K, specs.ArchSH, specs.ArchSHEB:
		return true
	}
	return false
}
