// sysprobe reports, for each argument, what the kernel (and its seccomp
// filter and device cgroup) answered inside a container: "NAME=ok" or
// "NAME=ERRNO". Built static by the end-to-end tests.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	for _, what := range os.Args[1:] {
		fmt.Printf("%s=%s\n", what, probe(what))
	}
}

func probe(what string) string {
	switch what {
	case "keyctl":
		// KEYCTL_GET_KEYRING_ID of the session keyring
		_, _, e := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(^uint(2)), 0)
		return errnoName(e)
	case "add_key":
		typ, desc := []byte("user\x00"), []byte("hull-sysprobe\x00")
		_, _, e := unix.Syscall6(unix.SYS_ADD_KEY, uintptr(unsafe.Pointer(&typ[0])), uintptr(unsafe.Pointer(&desc[0])),
			uintptr(unsafe.Pointer(&desc[0])), 1, uintptr(^uint(1)) /* KEY_SPEC_PROCESS_KEYRING */, 0)
		return errnoName(e)
	case "fuse":
		fd, err := unix.Open("/dev/fuse", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return errnoName(err.(syscall.Errno))
		}
		unix.Close(fd)
		return "ok"
	case "cap_sys_time":
		return capBounding(25)
	}
	return "unknown-probe"
}

func capBounding(bit uint) string {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "error"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "CapBnd:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if n&(1<<bit) != 0 {
				return "yes"
			}
			return "no"
		}
	}
	return "error"
}

func errnoName(e syscall.Errno) string {
	if e == 0 {
		return "ok"
	}
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return strconv.Itoa(int(e))
}
