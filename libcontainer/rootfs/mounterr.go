package rootfs

import (
	"errors"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// OptionError is a mount option the kernel refused; Prepare names the
// mount's options field with it.
type OptionError struct {
	Option string
	Why    string // the filesystem's own message, when it gave one
	Err    error
}

func (e *OptionError) Error() string {
	if e.Why == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("%s: %v", e.Why, e.Err)
}

func (e *OptionError) Unwrap() error { return e.Err }

// mountError explains a failed mount(2). EINVAL usually means a filesystem
// option the kernel does not take; mount(2) does not say which, so the
// options are offered one by one to a throwaway fsopen(2) context, which
// names the first it refuses. This costs nothing on the success path.
func mountError(m specs.Mount, o mountOptions, err error) error {
	if errors.Is(err, unix.EINVAL) {
		if opt, why := refusedOption(m.Type, o.data); opt != "" {
			return fmt.Errorf("mount %s on %s: %w", m.Type, m.Destination, &OptionError{Option: opt, Why: why, Err: err})
		}
	}
	return fmt.Errorf("mount %s (source %q, options %q) on %s: %w", m.Type, m.Source, o.dataString(), m.Destination, err)
}

// refusedOption returns the first of data the filesystem type refuses, and
// the kernel's message about it.
func refusedOption(fstype string, data []string) (string, string) {
	fd, err := unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return "", ""
	}
	defer unix.Close(fd)
	for _, d := range data {
		key, val, hasVal := strings.Cut(d, "=")
		if hasVal {
			err = unix.FsconfigSetString(fd, key, val)
		} else {
			err = unix.FsconfigSetFlag(fd, key)
		}
		if err != nil {
			return d, fsMessage(fd)
		}
	}
	return "", ""
}

// fsMessage reads the messages the kernel queued on an fs context; each
// read returns one, prefixed "e ", "w " or "i ".
func fsMessage(fd int) string {
	var msgs []string
	buf := make([]byte, 1024)
	for len(msgs) < 8 {
		n, err := unix.Read(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		msg := strings.TrimRight(string(buf[:n]), "\n\x00")
		if len(msg) > 2 && msg[1] == ' ' {
			msg = msg[2:]
		}
		msgs = append(msgs, msg)
	}
	return strings.Join(msgs, "; ")
}
