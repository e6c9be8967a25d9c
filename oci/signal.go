package oci

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ParseSignal accepts "9", "KILL", "SIGKILL", "RTMIN+3" and "SIGRTMAX-1".
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		// 0 checks that the processes exist, as kill(1)'s does (runc
		// accepts it: `kill --all ID 0`).
		if n < 0 || n > 64 {
			return 0, fmt.Errorf("signal %q: out of range", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	const rtmin, rtmax = 34, 64 // glibc's SIGRTMIN (the kernel's 32 and 33 are taken by threads)
	for _, base := range []struct {
		prefix string
		value  int
		sign   int
	}{{"SIGRTMIN", rtmin, 1}, {"SIGRTMAX", rtmax, -1}} {
		if rest, ok := strings.CutPrefix(name, base.prefix); ok {
			off := 0
			if rest != "" {
				n, err := strconv.Atoi(strings.TrimLeft(rest, "+-"))
				if err != nil || (rest[0] != '+' && rest[0] != '-') {
					return 0, fmt.Errorf("unknown signal %q", s)
				}
				off = n
				if rest[0] == '-' {
					off = -n
				}
			}
			v := base.value + off
			if v < rtmin || v > rtmax {
				return 0, fmt.Errorf("signal %q: out of range", s)
			}
			return unix.Signal(v), nil
		}
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}
