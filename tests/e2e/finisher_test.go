package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestExecFinisherParity: `hull exec` through the C finisher and through
// the Go init (HULL_GO_INIT=1) gives the process the same view of itself:
// ids, groups, capabilities, no_new_privs, seccomp mode, umask, cwd,
// rlimits, environment (HOME included), open fds and cgroup.
func TestExecFinisherParity(t *testing.T) {
	c := newContainer(t, func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "1000"}
		umask := uint32(0o027)
		s.Process.User.Umask = &umask
	})
	c.mustCreate()
	c.mustHull("start", c.ID)
	script := `grep -E '^(Uid|Gid|Groups|Cap[A-Za-z]+|NoNewPrivs|Seccomp):' /proc/self/status; umask; pwd; ulimit -n; env | sort; ls /proc/self/fd | wc -l; cat /proc/self/cgroup`
	for _, args := range [][]string{
		{"exec", c.ID, "sh", "-c", script},
		{"exec", "--user", "1000:1000", "--additional-gids", "10", "--cwd", "/tmp", "--env", "FOO=bar baz", "--cap", "CAP_KILL", c.ID, "sh", "-c", script},
	} {
		t.Setenv("HULL_GO_INIT", "")
		fin := c.mustHull(args...).Stdout
		t.Setenv("HULL_GO_INIT", "1")
		goInit := c.mustHull(args...).Stdout
		if fin != goInit {
			t.Errorf("%v:\nC finisher:\n%s\nGo init:\n%s", args, fin, goInit)
		}
		if !strings.Contains(fin, "HOME=") || !strings.Contains(fin, "Seccomp:") {
			t.Errorf("%v: incomplete report:\n%s", args, fin)
		}
	}
}

// TestFinisherErrnoText: a cwd that is a symbolic link loop fails `run`
// with the errno in Go's words through the C finisher as through the Go
// init, whichever C library hull-stage is linked against (musl's own text
// is "symbolic link loop"). runc, the control, fails too, on its mkdir of
// the cwd, which exists.
func TestFinisherErrnoText(t *testing.T) {
	const want = "too many levels of symbolic links"
	edit := func(s *specs.Spec) {
		s.Process.Args = []string{"/bin/true"}
		s.Process.Cwd = "/loop"
	}
	eachInitVariant(t, edit, func(t *testing.T, rt string, c *container) {
		rootfs := c.privateRootfs()
		if err := os.Symlink("loop", filepath.Join(rootfs, "loop")); err != nil {
			t.Fatal(err)
		}
		r := c.run()
		if r.Code == 0 {
			t.Fatalf("want a failure: %s", r)
		}
		if rt != "runc" && !strings.Contains(r.Stderr, want) {
			t.Errorf("want a failure saying %q: %s", want, r)
		}
	})
}
