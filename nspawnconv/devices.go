package nspawnconv

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// bindDeviceRules allows every bound character or block device node, as
// nspawn's machine properties do ("rw", "r" for a read-only bind). Like
// nspawn, only a node itself counts: a bound directory (/dev/dri) allows
// nothing under it, and a missing source is skipped.
func (cv *converter) bindDeviceRules() ([]specs.LinuxDeviceCgroup, error) {
	var rules []specs.LinuxDeviceCgroup
	for _, b := range cv.s.Binds {
		if b.Source == "" {
			continue
		}
		src := cv.hostSource(b.Source)
		var st unix.Stat_t
		if err := unix.Stat(src, &st); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return nil, fmt.Errorf("bind source %s: %w", src, err)
		}
		access := "rw"
		if b.ReadOnly {
			access = "r"
		}
		if r, ok := nodeRule(st, access); ok {
			rules = append(rules, r)
		}
	}
	return rules, nil
}

func nodeRule(st unix.Stat_t, access string) (specs.LinuxDeviceCgroup, bool) {
	typ := ""
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		typ = "c"
	case unix.S_IFBLK:
		typ = "b"
	default:
		return specs.LinuxDeviceCgroup{}, false
	}
	return specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: ptr(int64(unix.Major(st.Rdev))),
		Minor: ptr(int64(unix.Minor(st.Rdev))), Access: access}, true
}

// deviceAllowRules parses a DeviceAllow= value as systemd does: a node path
// (/dev/…, /dev/char/M:m, /dev/block/M:m) or char-NAME / block-NAME from
// /proc/devices (every minor), then optional "rwm" letters (default rwm).
func deviceAllowRules(value, procDevices string) ([]specs.LinuxDeviceCgroup, error) {
	dev, access, _ := strings.Cut(strings.TrimSpace(value), " ")
	access = strings.TrimSpace(access)
	if access == "" {
		access = "rwm"
	}
	if strings.Trim(access, "rwm") != "" {
		return nil, fmt.Errorf("access %q: only r, w and m", access)
	}
	for prefix, typ := range map[string]string{"char-": "c", "block-": "b"} {
		if name, ok := strings.CutPrefix(dev, prefix); ok {
			majors, err := procDeviceMajors(procDevices, typ, name)
			if err != nil {
				return nil, err
			}
			var rules []specs.LinuxDeviceCgroup
			for _, m := range majors {
				rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: ptr(m), Access: access})
			}
			return rules, nil
		}
	}
	if !strings.HasPrefix(dev, "/dev/") {
		return nil, fmt.Errorf("device %q: not a /dev path, char-NAME or block-NAME", dev)
	}
	var st unix.Stat_t
	if err := unix.Stat(dev, &st); err != nil {
		return nil, fmt.Errorf("device %s: %w", dev, err)
	}
	r, ok := nodeRule(st, access)
	if !ok {
		return nil, fmt.Errorf("%s is not a device node", dev)
	}
	return []specs.LinuxDeviceCgroup{r}, nil
}

// procDeviceMajors looks NAME up in the "Character devices:" or "Block
// devices:" part of /proc/devices; a trailing * matches every name with
// that prefix (systemd accepts globs there).
func procDeviceMajors(path, typ, name string) ([]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	want := map[string]string{"c": "Character devices:", "b": "Block devices:"}[typ]
	in := false
	var majors []int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasSuffix(line, "devices:") {
			in = line == want
			continue
		}
		num, n, ok := strings.Cut(line, " ")
		if !in || !ok {
			continue
		}
		if n == name || (strings.HasSuffix(name, "*") && strings.HasPrefix(n, strings.TrimSuffix(name, "*"))) {
			m, err := strconv.ParseInt(num, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q: %w", path, line, err)
			}
			majors = append(majors, m)
		}
	}
	if err := sc.Err(); err != nil || len(majors) > 0 {
		return majors, err
	}
	return nil, fmt.Errorf("%s: no %s device named %q: %w", path, want, name, fs.ErrNotExist)
}
