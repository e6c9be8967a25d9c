package main

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hull-runtime/hull/nspawnconv"
)

// rootlessIDs gives an unprivileged caller's ids and its subordinate
// ranges for `hull nspawn -U`/`hull convert -U`; nil for root.
func rootlessIDs() (*nspawnconv.RootlessIDs, error) {
	if os.Geteuid() == 0 {
		return nil, nil
	}
	u, err := user.LookupId(strconv.Itoa(os.Geteuid()))
	if err != nil {
		return nil, fmt.Errorf("unprivileged machine: who am I: %w", err)
	}
	r := &nspawnconv.RootlessIDs{UID: uint32(os.Geteuid()), GID: uint32(os.Getegid())}
	r.SubUID, r.SubUIDN = subRange("/etc/subuid", u.Username, os.Geteuid())
	r.SubGID, r.SubGIDN = subRange("/etc/subgid", u.Username, os.Geteuid())
	return r, nil
}

// subRange is the first range of name (or uid) in an /etc/subuid-style
// file; 0, 0 when there is none (the conversion then says so).
func subRange(file, name string, uid int) (start, n uint32) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) != 3 || (f[0] != name && f[0] != strconv.Itoa(uid)) {
			continue
		}
		s, err1 := strconv.ParseUint(f[1], 10, 32)
		c, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 == nil && err2 == nil {
			return uint32(s), uint32(c)
		}
	}
	return 0, 0
}

// nspawnBundleDir is where `hull nspawn` keeps its temporary bundles: the
// caller's runtime directory when unprivileged.
func nspawnBundleDir() (string, error) {
	if os.Geteuid() == 0 {
		return nspawnBundles, nil
	}
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if !filepath.IsAbs(dir) {
		return "", errors.New("hull nspawn unprivileged: $XDG_RUNTIME_DIR is not set (or not absolute): it holds the machine's bundle")
	}
	return filepath.Join(dir, "hull-nspawn"), nil
}
