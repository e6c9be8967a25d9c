package nspawn

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParsePort(t *testing.T) {
	good := map[string]Port{
		"tcp:8000:80":     {unix.IPPROTO_TCP, 8000, 80},
		"udp:5353:5353":   {unix.IPPROTO_UDP, 5353, 5353},
		"tcp:65535:65535": {unix.IPPROTO_TCP, 65535, 65535},
	}
	for in, want := range good {
		if got, err := ParsePort(in); err != nil || got != want {
			t.Errorf("%s: %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"8000:80", "sctp:1:2", "tcp:0:80", "tcp:80:0", "tcp:70000:80", "tcp:80", "tcp:a:b"} {
		if _, err := ParsePort(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
