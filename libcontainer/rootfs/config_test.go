package rootfs

import (
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestValidateRejectsBadInput(t *testing.T) {
	mode := os.FileMode(0o600)
	cases := []struct {
		name string
		c    Config
		want string
	}{
		{"relative rootfs", Config{Rootfs: "rootfs"}, `root.path "rootfs"`},
		{"unknown propagation", Config{Rootfs: "/r", Propagation: "rweird"}, `linux.rootfsPropagation "rweird"`},
		{"relative destination", Config{Rootfs: "/r", Mounts: []specs.Mount{{Destination: "proc", Type: "proc"}}}, `mounts[0].destination "proc"`},
		{"empty option", Config{Rootfs: "/r", Mounts: []specs.Mount{{Destination: "/x", Type: "tmpfs", Options: []string{""}}}}, "mounts[0] (/x): empty mount option"},
		{"device type", Config{Rootfs: "/r", Devices: []specs.LinuxDevice{{Path: "/dev/x", Type: "z", FileMode: &mode}}}, `linux.devices[0]: type "z"`},
		{"device relative", Config{Rootfs: "/r", Devices: []specs.LinuxDevice{{Path: "dev/x", Type: "c"}}}, `path "dev/x": must be absolute`},
		{"device escapes", Config{Rootfs: "/r", Devices: []specs.LinuxDevice{{Path: "/dev/../../etc/x", Type: "c"}}}, "resolves outside the container root"},
		{"masked relative", Config{Rootfs: "/r", MaskedPaths: []string{"proc/kcore"}}, `linux.maskedPaths[0] "proc/kcore"`},
		{"readonly relative", Config{Rootfs: "/r", ReadonlyPaths: []string{"proc/sys"}}, `linux.readonlyPaths[0] "proc/sys"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("validate() = %v, want error containing %q", err, tc.want)
			}
		})
	}
	ok := Config{Rootfs: "/r", Propagation: "rshared", Devices: []specs.LinuxDevice{{Path: "/dev/../dev/x", Type: "p"}}}
	if err := ok.validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	// Prepare must fail on bad input before touching anything.
	if err := Prepare(&Config{Rootfs: "/nonexistent", Propagation: "bogus"}); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("Prepare with bad propagation = %v", err)
	}
}

func TestParseOptions(t *testing.T) {
	cases := []struct {
		opts  []string
		flags uintptr
		prop  []uintptr
		set   uint64
		clr   uint64
		data  string
		idmap bool
	}{
		{opts: []string{"nosuid", "noexec", "nodev", "ro"}, flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV | unix.MS_RDONLY},
		{opts: []string{"ro", "rw"}, flags: 0},
		{opts: []string{"noatime", "atime", "strictatime", "relatime", "norelatime"}, flags: unix.MS_STRICTATIME},
		{opts: []string{"sync", "async", "dirsync", "mand", "nomand", "nodiratime", "diratime"}, flags: unix.MS_DIRSYNC},
		{opts: []string{"rbind", "rslave", "private"}, flags: unix.MS_BIND | unix.MS_REC, prop: []uintptr{unix.MS_SLAVE | unix.MS_REC, unix.MS_PRIVATE}},
		{opts: []string{"bind", "shared", "runbindable"}, flags: unix.MS_BIND, prop: []uintptr{unix.MS_SHARED, unix.MS_UNBINDABLE | unix.MS_REC}},
		{opts: []string{"rro", "rnosuid", "rnodev", "rnoexec"}, set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC},
		{opts: []string{"rro", "rrw", "rnoatime"}, set: unix.MOUNT_ATTR_NOATIME, clr: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR__ATIME},
		{opts: []string{"mode=755", "size=65536k", "nosuid"}, flags: unix.MS_NOSUID, data: "mode=755,size=65536k"},
		{opts: []string{"bind", "idmap"}, flags: unix.MS_BIND, idmap: true},
		{opts: []string{"remount", "suid", "dev", "exec"}, flags: unix.MS_REMOUNT},
	}
	for _, tc := range cases {
		o, err := parseOptions(tc.opts)
		if err != nil {
			t.Fatalf("%v: %v", tc.opts, err)
		}
		if o.flags != tc.flags || o.attr.Attr_set != tc.set || o.attr.Attr_clr != tc.clr || o.dataString() != tc.data || o.idmap != tc.idmap {
			t.Errorf("%v: got flags %#x set %#x clr %#x data %q idmap %v", tc.opts, o.flags, o.attr.Attr_set, o.attr.Attr_clr, o.dataString(), o.idmap)
		}
		if len(o.propagation) != len(tc.prop) {
			t.Errorf("%v: propagation %v, want %v", tc.opts, o.propagation, tc.prop)
			continue
		}
		for i := range tc.prop {
			if o.propagation[i] != tc.prop[i] {
				t.Errorf("%v: propagation %v, want %v", tc.opts, o.propagation, tc.prop)
			}
		}
	}
}
