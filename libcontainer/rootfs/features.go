package rootfs

import "sort"

// extensionOptions are the options runc and crun accept that are not mount
// flags: they change how hull makes the mount.
var extensionOptions = []string{"idmap", "ridmap", "tmpcopyup", "copy-symlink"}

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
	opts = append(opts, extensionOptions...)
	sort.Strings(opts)
	return opts
}
