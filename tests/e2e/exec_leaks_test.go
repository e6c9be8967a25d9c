package e2e

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPreserveFDsGap: --preserve-fds N passes the caller's fds 3 to 2+N,
// and a number among them the caller left closed is refused, naming it,
// before anything starts. hull 867ede5 passed on whatever hull had opened
// there itself, the container's locked state directory among them: a
// way to the host's / through /proc/self/fd/N/../.. (found by review).
// runc, the control, is logged: it passes its own fds too.
func TestPreserveFDsGap(t *testing.T) {
	for _, rt := range cliRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			c := newRuntimeContainer(t, rt, sleeper)
			f, err := os.Open(os.DevNull)
			must(t, err)
			defer f.Close()
			gap := []*os.File{f, nil, f} // fds 3 and 5, not 4
			r := c.startHull(gap, "run", "-d", "--preserve-fds", "3", "--bundle", c.Bundle, c.ID).wait()
			if rt == "runc" {
				t.Logf("control: run: %s", r)
				c.hull("delete", "-f", c.ID)
				r = c.startHull(nil, "run", "-d", "--bundle", c.Bundle, c.ID).wait()
			} else {
				if r.Code == 0 || !strings.Contains(r.Stderr, "--preserve-fds 3: fd 4 was not passed to hull") {
					t.Errorf("run with a gap in the preserved fds: %s", r)
				}
				if left := leftovers(c); len(left) > 0 {
					t.Errorf("left behind: %v", left)
				}
				r = c.startHull(nil, "run", "-d", "--bundle", c.Bundle, c.ID).wait()
			}
			if r.Code != 0 {
				t.Fatalf("%s", r)
			}
			c.recordInit()
			x := c.startHull(gap, "exec", "--preserve-fds", "3", c.ID, "ls", "-l", "/proc/self/fd/").wait()
			if rt == "runc" {
				t.Logf("control: exec: %s", x)
				return
			}
			if x.Code == 0 || !strings.Contains(x.Stderr, "--preserve-fds 3: fd 4 was not passed to hull") {
				t.Errorf("exec with a gap in the preserved fds: %s", x)
			}
			ok := c.startHull([]*os.File{f, f}, "exec", "--preserve-fds", "2", c.ID, "ls", "-l", "/proc/self/fd/").wait()
			if ok.Code != 0 || !strings.Contains(ok.Stdout, "4 -> /dev/null") {
				t.Errorf("exec passing fds 3 and 4: %s", ok)
			}
		})
	}
}

// keyDescribe prints the description of the caller's session keyring.
const keyDescribe = `#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void)
{
	char buf[512];
	long n = syscall(SYS_keyctl, 6 /* KEYCTL_DESCRIBE */, -3 /* session keyring */, buf, sizeof(buf), 0);
	if (n < 0) {
		perror("keyctl");
		return 1;
	}
	printf("%s\n", buf);
	return 0;
}
`

// TestExecSessionKeyring: an exec'd process joins the container's session
// keyring (_ses.ID), as runc's does, not the caller's: engines exec from
// a daemon, whose keyring every container would otherwise share. hull
// 867ede5 kept the caller's (found by review). runc is the control.
func TestExecSessionKeyring(t *testing.T) {
	for _, rt := range cliRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			c := newRuntimeContainer(t, rt, sleeper)
			root := c.privateRootfs()
			if err := compileC(t, "a keyring probe", keyDescribe, filepath.Join(root, "keydesc"), "-static", "-O2"); err != nil {
				t.Skipf("%v", err)
			}
			c.runDetached()
			// The session keyring is the thread's: join a new one on this
			// thread, which starts hull, locked and never unlocked, so
			// that it ends with the test instead of serving others.
			runtime.LockOSThread()
			caller := "hull-e2e-caller-" + uniqueName(t)
			if _, err := unix.KeyctlJoinSessionKeyring(caller); err != nil {
				t.Skipf("join a session keyring: %v", err)
			}
			r := c.hull("exec", c.ID, "/keydesc")
			if r.Code != 0 {
				t.Fatalf("%s", r)
			}
			got := strings.TrimSpace(r.Stdout)
			if strings.HasSuffix(got, ";"+caller) || !strings.HasSuffix(got, ";_ses."+c.ID) {
				t.Errorf("%s: exec'd process's session keyring %q, want the container's _ses.%s", rt, got, c.ID)
			}
		})
	}
}
