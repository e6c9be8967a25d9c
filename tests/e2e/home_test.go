package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestHome: with no HOME in process.env, the init and exec'd processes get
// the home of their uid's entry in the image's /etc/passwd, else "/"; a
// HOME in the env is kept. runc is the control.
func TestHome(t *testing.T) {
	t.Parallel()
	for _, c := range withControls(t, func(s *specs.Spec) {
		s.Process.Env = []string{"PATH=/bin:/sbin", "HOME="}
		s.Process.Args = []string{"sleep", "60"}
	}) {
		func() {
			rootfs := c.privateRootfs()
			appendFile(t, filepath.Join(rootfs, "etc/passwd"), "svc:x:1000:1000::/home/svc:/bin/sh\n")
			c.mustCreate()
			c.mustHull("start", c.ID)
			home := `echo "[$HOME]"`
			for _, tc := range []struct {
				name string
				args []string
				want string
			}{
				{"init (empty HOME in config)", []string{c.ID, "sh", "-c", `tr '\0' '\n' </proc/1/environ | grep ^HOME=`}, "HOME=/root"},
				{"exec as root", append([]string{c.ID}, sh(home)...), "[/root]"},
				{"exec as uid 1000", append([]string{"--user", "1000:1000", c.ID}, sh(home)...), "[/home/svc]"},
				{"exec as a uid without entry", append([]string{"--user", "4242:4242", c.ID}, sh(home)...), "[/]"},
				{"exec with HOME set", append([]string{"--env", "HOME=/given", c.ID}, sh(home)...), "[/given]"},
			} {
				r := c.mustHull(append([]string{"exec"}, tc.args...)...)
				if got := strings.TrimSpace(r.Stdout); got != tc.want {
					t.Errorf("%s %s: %q, want %q", c.runtimeName(), tc.name, got, tc.want)
				}
			}
		}()
	}
}

// TestHomePasswdHostile: an image's /etc/passwd that is a symlink leaving
// the root, or a fifo, yields "/" and never the host's file or a hang.
func TestHomePasswdHostile(t *testing.T) {
	t.Parallel()
	host := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(host, []byte("root:x:0:0::/HOST-LEAK:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, passwd string)
	}{
		{"symlink out of the root", func(t *testing.T, passwd string) {
			if err := os.Symlink("../../../../../../../../.."+host, passwd); err != nil {
				t.Fatal(err)
			}
		}},
		{"absolute symlink", func(t *testing.T, passwd string) {
			if err := os.Symlink(host, passwd); err != nil {
				t.Fatal(err)
			}
		}},
		{"fifo", func(t *testing.T, passwd string) {
			if err := unix.Mkfifo(passwd, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t, func(s *specs.Spec) { s.Process.Env = []string{"PATH=/bin"} })
			passwd := filepath.Join(c.privateRootfs(), "etc/passwd")
			os.Remove(passwd)
			tc.plant(t, passwd)
			if got := strings.TrimSpace(c.runOutput("sh", "-c", `echo "[$HOME]"`)); got != "[/]" {
				t.Errorf("HOME %s, want [/]", got)
			}
		})
	}
}

func appendFile(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
}
