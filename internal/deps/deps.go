// Package deps pins the project's dependencies until code imports them.
package deps

import (
	_ "github.com/coreos/go-systemd/v22/dbus"
	_ "github.com/godbus/dbus/v5"
	_ "github.com/opencontainers/runtime-spec/specs-go"
	_ "github.com/opencontainers/runtime-tools/validate"
	_ "github.com/seccomp/libseccomp-golang"
	_ "github.com/urfave/cli/v2"
	_ "github.com/vishvananda/netlink"
	_ "golang.org/x/sys/unix"
)
