package cgroups

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// v1's devices controller keeps a default (allow or deny everything) and a
// list of exceptions to it. Writing the rules one by one from a deny-all
// reset would leave processes already in the cgroup without /dev/null for
// a moment, so hull does what runc does: it models the current and the
// wanted state, and writes only the difference when both deny by default.
// Since `update` leaves device rules alone (as runc's), only a create into
// a cgroup that already has processes or rules gets here with a difference.

// devKey names what an exception covers; -1 is "*".
type devKey struct {
	typ          byte // 'b' or 'c'
	major, minor int64
}

// Access bits of an exception.
const (
	devRead  = 1 << iota
	devWrite = 1 << iota
	devMknod = 1 << iota
)

// devState is a devices cgroup as the kernel keeps it: with allowAll the
// exceptions deny access, without it they grant it.
type devState struct {
	allowAll bool
	except   map[devKey]uint8
	order    []devKey // keys in the order they first appeared
}

func newDevState(allowAll bool) *devState {
	return &devState{allowAll: allowAll, except: map[devKey]uint8{}}
}

// add records access for k, remembering k's place: the kernel lists
// exceptions in the order they were made, and the runtime-spec says rules
// apply in the order listed (runtime-tools checks devices.list's order).
func (s *devState) add(k devKey, acc uint8) {
	if _, ok := s.except[k]; !ok {
		s.order = append(s.order, k)
	}
	s.except[k] |= acc
}

// keys lists the current exceptions in order.
func (s *devState) keys() []devKey { return s.order }

func parseAccess(s string) uint8 {
	if s == "" {
		s = "rwm"
	}
	var a uint8
	for _, c := range s {
		switch c {
		case 'r':
			a |= devRead
		case 'w':
			a |= devWrite
		case 'm':
			a |= devMknod
		}
	}
	return a
}

func formatAccess(a uint8) string {
	var b strings.Builder
	for _, x := range []struct {
		bit uint8
		c   byte
	}{{devRead, 'r'}, {devWrite, 'w'}, {devMknod, 'm'}} {
		if a&x.bit != 0 {
			b.WriteByte(x.c)
		}
	}
	return b.String()
}

func devNumber(p *int64) int64 {
	if p == nil {
		return -1
	}
	return *p
}

// apply is the kernel's handling of one write: an "a" rule resets the
// default, an allow adds to (deny-all) or removes from (allow-all) the
// exceptions, a deny the opposite, exactly for that type:major:minor.
func (s *devState) apply(d specs.LinuxDeviceCgroup) {
	if d.Type == "" || d.Type == "a" {
		*s = *newDevState(d.Allow)
		return
	}
	k := devKey{d.Type[0], devNumber(d.Major), devNumber(d.Minor)}
	acc := parseAccess(d.Access)
	if d.Allow != s.allowAll {
		s.add(k, acc)
		return
	}
	if s.except[k] &^= acc; s.except[k] == 0 {
		delete(s.except, k)
		s.order = slices.DeleteFunc(s.order, func(o devKey) bool { return o == k })
	}
}

// wantedDevState is the state the rules describe, applied from deny-all as
// runc and crun apply them: a config need not start with a deny-all rule,
// and one without it must not leave the container every host device (a
// new v1 cgroup inherits allow-all). v2's eBPF program denies what no rule
// matches, the same.
func wantedDevState(rules []specs.LinuxDeviceCgroup) (*devState, error) {
	s := newDevState(false)
	for i, d := range rules {
		if _, err := deviceRule(d); err != nil {
			return nil, fmt.Errorf("linux.resources.devices[%d]: %w", i, err)
		}
		s.apply(d)
	}
	return s, nil
}

// parseDevicesList reads devices.list: "a *:* rwm" alone when everything is
// allowed (the kernel then hides the exceptions), else the granted
// exceptions, one "c 1:3 rwm" a line.
func parseDevicesList(list string) (*devState, error) {
	s := newDevState(false)
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 || len(f[0]) != 1 {
			return nil, fmt.Errorf("devices.list: cannot parse %q", line)
		}
		nums := strings.SplitN(f[1], ":", 2)
		if len(nums) != 2 {
			return nil, fmt.Errorf("devices.list: cannot parse %q", line)
		}
		if f[0] == "a" {
			return newDevState(true), nil
		}
		var k devKey
		k.typ = f[0][0]
		for i, n := range nums {
			v := int64(-1)
			if n != "*" {
				var err error
				if v, err = strconv.ParseInt(n, 10, 64); err != nil {
					return nil, fmt.Errorf("devices.list: cannot parse %q", line)
				}
			}
			if i == 0 {
				k.major = v
			} else {
				k.minor = v
			}
		}
		s.add(k, parseAccess(f[2]))
	}
	return s, nil
}

// deviceWrite is one line for devices.allow or devices.deny.
type deviceWrite struct{ file, line string }

func exceptionLine(k devKey, acc uint8) string {
	n := func(v int64) string {
		if v < 0 {
			return "*"
		}
		return strconv.FormatInt(v, 10)
	}
	return fmt.Sprintf("%c %s:%s %s", k.typ, n(k.major), n(k.minor), formatAccess(acc))
}

// deviceTransition lists the writes that take a cgroup from cur to want.
// When both deny by default only the differences are written, grants
// before revocations, so access both states share is never interrupted.
// Otherwise the default is reset first; an allow-all state's exceptions
// cannot be read back, so reaching one is always a full rewrite.
func deviceTransition(cur, want *devState) []deviceWrite {
	var out []deviceWrite
	grant, revoke := "devices.allow", "devices.deny"
	if want.allowAll {
		grant, revoke = revoke, grant
	}
	base := cur
	if want.allowAll || cur.allowAll {
		out = append(out, deviceWrite{revoke, "a"})
		base = newDevState(want.allowAll)
	}
	for _, k := range want.keys() {
		if add := want.except[k] &^ base.except[k]; add != 0 {
			out = append(out, deviceWrite{grant, exceptionLine(k, add)})
		}
	}
	for _, k := range base.keys() {
		if drop := base.except[k] &^ want.except[k]; drop != 0 {
			out = append(out, deviceWrite{revoke, exceptionLine(k, drop)})
		}
	}
	return out
}

// setDevicesV1 brings dir's devices cgroup to what rules describe.
func setDevicesV1(dir string, rules []specs.LinuxDeviceCgroup) error {
	if len(rules) == 0 {
		return nil
	}
	want, err := wantedDevState(rules)
	if err != nil {
		return err
	}
	list, err := readFile(dir, "devices.list")
	if err != nil {
		return fieldErr("devices", err)
	}
	cur, err := parseDevicesList(list)
	if err != nil {
		return fieldErr("devices", err)
	}
	return writeDeviceRules(dir, deviceTransition(cur, want))
}

// writeDeviceRules writes each rule in order, one write(2) each (the
// kernel takes a write as one rule), through one open fd per run of rules
// for the same file: a container's default rules are a dozen writes to
// devices.allow, where an open and a close per rule cost more than the rule.
func writeDeviceRules(dir string, writes []deviceWrite) error {
	fd, open := -1, ""
	defer func() {
		if fd >= 0 {
			unix.Close(fd)
		}
	}()
	for _, w := range writes {
		var err error
		if w.file != open {
			if fd >= 0 {
				unix.Close(fd)
			}
			fd, err = openControl(filepath.Join(dir, w.file), unix.O_WRONLY)
			open = w.file
		}
		if err == nil {
			err = writeControl(fd, w.line)
		}
		if err != nil {
			return fieldErr(fmt.Sprintf("devices (%s %q)", w.file, w.line),
				fmt.Errorf("write %q to %s: %w", w.line, filepath.Join(dir, w.file), err))
		}
	}
	return nil
}
