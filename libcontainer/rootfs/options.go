package rootfs

import (
	"errors"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountOptions is a mount's option list sorted by how each is applied.
type mountOptions struct {
	flags       uintptr   // MS_* flags for mount(2)
	propagation []uintptr // applied one by one after the mount exists
	attr        unix.MountAttr
	recursive   bool // attr must be applied with mount_setattr(AT_RECURSIVE)
	idmap       bool // idmap or ridmap
	idmapRec    bool // ridmap
	idmapTree   int  // > 0: fd of the ID-mapped copy of the source the parent made (Config.IdmappedTrees)
	tmpcopyup   bool // runc's and crun's extension: fill a new tmpfs from what it covers
	copySymlink bool // crun's extension: a bind of a symlink recreates the symlink
	data        []string
}

type flagOpt struct {
	clear bool
	flag  uintptr
}

var flagOptions = map[string]flagOpt{
	"acl":           {false, unix.MS_POSIXACL},
	"async":         {true, unix.MS_SYNCHRONOUS},
	"atime":         {true, unix.MS_NOATIME},
	"bind":          {false, unix.MS_BIND},
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"iversion":      {false, unix.MS_I_VERSION},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"loud":          {true, unix.MS_SILENT},
	"mand":          {false, unix.MS_MANDLOCK},
	"noacl":         {true, unix.MS_POSIXACL},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"noiversion":    {true, unix.MS_I_VERSION},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"nosymfollow":   {false, unix.MS_NOSYMFOLLOW},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"silent":        {false, unix.MS_SILENT},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"symfollow":     {true, unix.MS_NOSYMFOLLOW},
	"sync":          {false, unix.MS_SYNCHRONOUS},
}

// recursiveOptions map to mount_setattr(2) attributes applied with
// AT_RECURSIVE, so they also reach every submount of an rbind.
var recursiveOptions = map[string]unix.MountAttr{
	"rro":            {Attr_set: unix.MOUNT_ATTR_RDONLY},
	"rrw":            {Attr_clr: unix.MOUNT_ATTR_RDONLY},
	"rnosuid":        {Attr_set: unix.MOUNT_ATTR_NOSUID},
	"rsuid":          {Attr_clr: unix.MOUNT_ATTR_NOSUID},
	"rnodev":         {Attr_set: unix.MOUNT_ATTR_NODEV},
	"rdev":           {Attr_clr: unix.MOUNT_ATTR_NODEV},
	"rnoexec":        {Attr_set: unix.MOUNT_ATTR_NOEXEC},
	"rexec":          {Attr_clr: unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":    {Attr_set: unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":      {Attr_clr: unix.MOUNT_ATTR_NODIRATIME},
	"rnosymfollow":   {Attr_set: unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rsymfollow":     {Attr_clr: unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rrelatime":      {Attr_clr: unix.MOUNT_ATTR__ATIME, Attr_set: unix.MOUNT_ATTR_RELATIME},
	"rnorelatime":    {Attr_clr: unix.MOUNT_ATTR__ATIME, Attr_set: unix.MOUNT_ATTR_STRICTATIME},
	"rnoatime":       {Attr_clr: unix.MOUNT_ATTR__ATIME, Attr_set: unix.MOUNT_ATTR_NOATIME},
	"ratime":         {Attr_clr: unix.MOUNT_ATTR__ATIME, Attr_set: unix.MOUNT_ATTR_RELATIME},
	"rstrictatime":   {Attr_clr: unix.MOUNT_ATTR__ATIME, Attr_set: unix.MOUNT_ATTR_STRICTATIME},
	"rnostrictatime": {Attr_clr: unix.MOUNT_ATTR__ATIME, Attr_set: unix.MOUNT_ATTR_RELATIME},
}

// parseOptions sorts options into flags, propagation, recursive attributes,
// idmap requests and filesystem data. Later options override earlier ones,
// as in mount(8).
func parseOptions(opts []string) (mountOptions, error) {
	var o mountOptions
	for _, opt := range opts {
		if f, ok := flagOptions[opt]; ok {
			if f.clear {
				o.flags &^= f.flag
			} else {
				o.flags |= f.flag
			}
			continue
		}
		if p, ok := propagationFlags[opt]; ok {
			o.propagation = append(o.propagation, p)
			continue
		}
		if a, ok := recursiveOptions[opt]; ok {
			o.recursive = true
			o.attr.Attr_set = o.attr.Attr_set&^a.Attr_clr | a.Attr_set
			o.attr.Attr_clr = o.attr.Attr_clr&^a.Attr_set | a.Attr_clr
			continue
		}
		switch opt {
		case "idmap":
			o.idmap = true
			continue
		case "ridmap":
			o.idmap, o.idmapRec = true, true
			continue
		case "tmpcopyup":
			o.tmpcopyup = true
			continue
		case "copy-symlink":
			o.copySymlink = true
			continue
		case "":
			return o, fmt.Errorf("empty mount option")
		}
		o.data = append(o.data, opt)
	}
	return o, nil
}

func (o mountOptions) dataString() string { return strings.Join(o.data, ",") }

// isBind reports whether m's type and options ask for a bind mount.
func isBind(typ string, o mountOptions) bool {
	return typ == "bind" || typ == "rbind" || o.flags&unix.MS_BIND != 0
}

// ValidateMounts checks each mount's options before anything is made. An
// option hull does not know is filesystem data, which a bind mount ignores:
// key=value data there is accepted as runc does (runtime-tools sends
// mode=755), but a bare word that is no known option (a misspelt "nosiud",
// an extension hull lacks) is refused rather than silently dropped. The
// extensions apply to one kind of mount each. Filesystem data itself is the
// kernel's to judge, when the mount is made (see mountError).
func ValidateMounts(mounts []specs.Mount) error {
	var errs []error
	for i, m := range mounts {
		o, err := parseOptions(m.Options)
		if err != nil {
			errs = append(errs, fmt.Errorf("mounts[%d].options: %w", i, err))
			continue
		}
		bind := isBind(m.Type, o)
		switch {
		case bind && unknownWord(o.data) != "":
			errs = append(errs, fmt.Errorf("mounts[%d].options %q: unknown mount option (bind mount of %s on %s; `hull features` lists the known ones)",
				i, unknownWord(o.data), m.Source, m.Destination))
		case o.tmpcopyup && m.Type != "tmpfs":
			errs = append(errs, fmt.Errorf("mounts[%d].options \"tmpcopyup\": only for tmpfs mounts, not type %q", i, m.Type))
		case o.copySymlink && !bind:
			errs = append(errs, fmt.Errorf("mounts[%d].options \"copy-symlink\": only for bind mounts, not type %q", i, m.Type))
		}
	}
	return errors.Join(errs...)
}

// unknownWord returns the first option of data that is not key=value.
func unknownWord(data []string) string {
	for _, d := range data {
		if !strings.Contains(d, "=") {
			return d
		}
	}
	return ""
}
