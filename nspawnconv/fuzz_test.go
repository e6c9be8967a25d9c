package nspawnconv

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParseSettings: a .nspawn file, tokenised and parsed. Never a panic;
// an error names the file.
func FuzzParseSettings(f *testing.F) {
	f.Add([]byte("[Exec]\nBoot=yes\nEnvironment=A=1 B=2\n[Files]\nBind=/a:/b:rbind\n[Network]\nPort=tcp:80:8080\n"))
	f.Add([]byte("[Exec]\nCapability=CAP_NET_ADMIN \\\n CAP_SYS_ADMIN\nLimitNOFILE=1024:2048\nPersonality=x86\n"))
	f.Add([]byte("[Exec]\nPrivateUsers=pick\nPrivateUsersOwnership=map\nSystemCallFilter=~@mount\n"))
	f.Add([]byte("[Files]\nTemporaryFileSystem=/run:mode=0755\nOverlay=+/a::/b\nBindUser=nobody\n"))
	f.Add([]byte("[X-Custom]\nFoo=bar\n[Exec\nKey\n=\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, err := ParseSettings(bytes.NewReader(data), "fuzz.nspawn")
		if err != nil && !strings.Contains(err.Error(), "fuzz.nspawn") {
			t.Errorf("error does not name the file: %v", err)
		}
	})
}

// FuzzParseCommandLine: systemd-nspawn's command line (arguments split at
// NUL). Never a panic.
func FuzzParseCommandLine(f *testing.F) {
	f.Add("-D\x00/srv/m\x00--boot")
	f.Add("--bind=/a:/b\x00-E\x00FOO\x00--private-users=1000:65536\x00--\x00/bin/sh")
	f.Add("-p\x00tcp:80\x00--capability=all\x00--network-veth\x00-M\x00name")
	f.Add("--rlimit=NOFILE=1:2\x00--cpu-affinity=0-3\x00--oom-score-adjust=-1000")
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, "\x00")
		env := func(k string) (string, bool) { return "v", k == "FOO" }
		_, _ = ParseCommandLine(args, env)
	})
}
