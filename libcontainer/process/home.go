package process

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// maxPasswd bounds how much of the image's passwd file is read: the file
// is the container's, and could be anything (a huge file, /dev/zero).
const maxPasswd = 4 << 20

// WithHome returns env with HOME set, as runc does, when env has no HOME or
// an empty one: the home of uid's entry in passwd (the image's
// /etc/passwd, read after the container's root became ours, so the path
// and every symlink in it resolve inside the container), else "/".
func WithHome(env []string, passwd string, uid uint32) []string {
	return withHome(env, func() string { return lookupHome(passwd, uid) })
}

// withHome sets HOME from home() unless env has a non-empty one (the last
// one wins, as in execve's consumers).
func withHome(env []string, home func() string) []string {
	if lastHome(env) != "" {
		return env
	}
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "HOME=") {
			out = append(out, kv)
		}
	}
	return append(out, "HOME="+home())
}

func lastHome(env []string) string {
	home := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "HOME="); ok {
			home = v
		}
	}
	return home
}

// lookupHome is uid's home directory in the passwd file at path, or "/"
// when the file cannot be read, is not a regular file, or has no entry.
func lookupHome(path string, uid uint32) string {
	// O_NONBLOCK: a fifo planted at /etc/passwd must not hang the init.
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return "/"
	}
	return passwdHome(fd, uid)
}

// passwdHome is lookupHome on an open passwd file, which it closes. The
// fd stays a plain one: an *os.File of a non-blocking fd would register
// it with the runtime's poller (setting the poller up, in create).
func passwdHome(fd int, uid uint32) string {
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return "/"
	}
	if home, ok := parsePasswdHome(io.LimitReader(fdReader(fd), maxPasswd), uid); ok {
		return home
	}
	return "/"
}

// fdReader reads a plain fd.
type fdReader int

func (r fdReader) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(int(r), p)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// parsePasswdHome finds the first entry "name:pw:uid:gid:gecos:home:shell"
// whose uid is uid.
func parsePasswdHome(r io.Reader, uid uint32) (string, bool) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 4096), 1<<20)
	want := strconv.FormatUint(uint64(uid), 10)
	for s.Scan() {
		line := bytes.TrimSpace(s.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		f := strings.Split(string(line), ":")
		if len(f) < 6 || f[2] != want {
			continue
		}
		return f[5], true
	}
	return "", false
}
