package wire

import (
	"bytes"
	"encoding/binary"
	"os"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func socketpair(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestRoundTrip sends every kind of frame over a real socketpair: plain
// ones read with read(2) and with recvmsg, and one carrying a pipe's write
// end as SCM_RIGHTS, which must arrive as a working fd.
func TestRoundTrip(t *testing.T) {
	a, b := socketpair(t)
	big := bytes.Repeat([]byte("x"), 300000) // more than one socket buffer
	cases := []struct {
		typ     byte
		payload []byte
	}{{MsgPid, []byte("1234")}, {MsgMapped, nil}, {MsgConfig, big}}
	for _, c := range cases {
		go func() { Write(a, c.typ, c.payload) }()
		typ, payload, err := Read(b)
		if err != nil || typ != c.typ || !bytes.Equal(payload, c.payload) {
			t.Fatalf("Read: %q, %d bytes, %v; want %q, %d bytes", typ, len(payload), err, c.typ, len(c.payload))
		}
		go func() { Write(a, c.typ, c.payload) }()
		typ, payload, fds, err := ReadFds(b)
		if err != nil || typ != c.typ || !bytes.Equal(payload, c.payload) || len(fds) != 0 {
			t.Fatalf("ReadFds: %q, %d bytes, fds %v, %v", typ, len(payload), fds, err)
		}
	}

	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	if err := WriteFds(a, MsgSeccompFd, []byte("7"), p[1]); err != nil {
		t.Fatal(err)
	}
	unix.Close(p[1])
	typ, payload, fds, err := ReadFds(b)
	defer CloseFds(fds)
	if err != nil || typ != MsgSeccompFd || string(payload) != "7" || len(fds) != 1 {
		t.Fatalf("ReadFds with a fd: %q %q fds %v %v", typ, payload, fds, err)
	}
	if _, err := unix.Write(fds[0], []byte("ok")); err != nil {
		t.Fatalf("write through the received fd: %v", err)
	}
	buf := make([]byte, 2)
	if n, err := unix.Read(p[0], buf); err != nil || string(buf[:n]) != "ok" {
		t.Fatalf("read back through the pipe: %q %v", buf[:n], err)
	}
	flags, err := unix.FcntlInt(uintptr(fds[0]), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("received fd is not close-on-exec (flags %#x, %v)", flags, err)
	}
}

func TestReadErrors(t *testing.T) {
	cases := []struct {
		name, want string
		data       []byte
	}{
		{"empty", ErrPeerGone.Error(), nil},
		{"short header", ErrPeerGone.Error(), []byte{'P', 1}},
		{"short payload", ErrPeerGone.Error(), append([]byte{'P'}, binary.NativeEndian.AppendUint32(nil, 10)...)},
		{"too large", "too large", append([]byte{'C'}, binary.NativeEndian.AppendUint32(nil, MaxPayload+1)...)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Read(bytes.NewReader(c.data))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Read(%q) = %v, want %q", c.data, err, c.want)
			}
			a, b := socketpair(t)
			a.Write(c.data)
			a.Close()
			_, _, fds, err := ReadFds(b)
			CloseFds(fds)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ReadFds(%q) = %v, want %q", c.data, err, c.want)
			}
		})
	}
}

func sampleProcess() *Process {
	return &Process{
		Flags: FlagNoNewPrivs, UID: 1000, GID: 100, Umask: 0o027,
		Groups: []uint32{100, 10, 4294967294},
		Caps:   [NumCapSets]uint64{1<<40 | 5, 5, 0, 5, 1 << 2}, LastCap: 40,
		Rlimits: []Rlimit{{Resource: 7, Soft: 1024, Hard: 4096}, {Resource: 4, Soft: ^uint64(0), Hard: ^uint64(0)}},
		IOPrio:  2<<13 | 4, Personality: 8, PreserveFDs: 2, FifoFD: -1, ConsoleFD: 6,
		SeccompFlags: 1, Seccomp: bytes.Repeat([]byte{6, 0, 0, 0, 0, 0, 0xff, 0x7f}, 3),
		Program: "/usr/bin/env", Cwd: "/tmp/a dir", Keyring: "_ses.c1",
		Args: []string{"env", "", "ünï"}, Env: []string{"PATH=/bin", "HOME=/root"},
	}
}

func TestProcessRoundTrip(t *testing.T) {
	minimal := &Process{IOPrio: -1, Personality: -1, FifoFD: -1, ConsoleFD: -1, Program: "/t", Cwd: "/", Args: []string{"t"}}
	for _, p := range []*Process{sampleProcess(), minimal} {
		b, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeProcess(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, p) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, p)
		}
		// Every cut of the message is refused, none panics.
		for i := 0; i < len(b); i++ {
			if _, err := DecodeProcess(b[:i]); err == nil {
				t.Fatalf("DecodeProcess of the first %d of %d bytes succeeded", i, len(b))
			}
		}
	}
}

func TestProcessEncodeRefuses(t *testing.T) {
	cases := []struct {
		name, want string
		edit       func(*Process)
	}{
		{"NUL in env", "env[1]", func(p *Process) { p.Env[1] = "A=\x00B" }},
		{"NUL in cwd", "cwd[0]", func(p *Process) { p.Cwd = "/a\x00" }},
		{"no args", "no program", func(p *Process) { p.Args = nil }},
		{"odd seccomp", "seccomp", func(p *Process) { p.Seccomp = p.Seccomp[:5] }},
		{"many rlimits", "rlimits", func(p *Process) { p.Rlimits = make([]Rlimit, 65) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := sampleProcess()
			c.edit(p)
			_, err := p.Encode()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Encode = %v, want an error naming %q", err, c.want)
			}
		})
	}
	if _, err := DecodeProcess([]byte("nope")); err == nil {
		t.Fatal("bad magic accepted")
	}
}
