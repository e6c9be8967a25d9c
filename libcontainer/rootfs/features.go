package rootfs

import "sort"

// MountOptions lists every mount option hull understands (the rest are
// passed to the filesystem as data), for `hull features`.
func MountOptions() []string {
	var opts []string
	for o := range flagOptions {
		opts = append(opts, o)
	}
	for o := range recursiveOptions {
		opts = append(opts, o)
	}
	for o := range propagationFlags {
		opts = append(opts, o)
	}
	opts = append(opts, "idmap", "ridmap")
	sort.Strings(opts)
	return opts
}
