package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestCLIFlagsAfterID: flags after the container id take effect, as runc
// accepts them (`update ID --cpuset-cpus 0` used to exit 0 and change
// nothing under hull); after exec's id they belong to the command.
func TestCLIFlagsAfterID(t *testing.T) {
	needV1(t, "pids", "cgroup.procs")
	for _, rt := range cliRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			c := newRuntimeContainer(t, rt, sleeper)
			c.runDetached() // run ID --detach --bundle B
			if r := c.hull("update", c.ID, "--cpuset-cpus", "0", "--pids-limit", "33", "--memory", "64m"); r.Code != 0 {
				t.Fatalf("%s", r)
			}
			for _, f := range []struct{ hier, file, want string }{
				{"cpuset", "cpuset.cpus", "0"},
				{"pids", "pids.max", "33"},
				{"memory", "memory.limit_in_bytes", strconv.Itoa(64 << 20)},
			} {
				if got := readCgroupFile(t, c.Cgroup, f.hier, f.file); got != f.want {
					t.Errorf("%s after update: %q, want %q", f.file, got, f.want)
				}
			}
			// exec: what follows the id is the command, flags included.
			r := c.hull("exec", c.ID, "echo", "--tty", "-e")
			if r.Code != 0 || r.Stdout != "--tty -e\n" {
				t.Errorf("exec ID echo --tty -e: want the flags echoed\n%s", r)
			}
			if r := c.hull("delete", c.ID, "--force"); r.Code != 0 {
				t.Fatalf("%s", r)
			}
			if _, err := os.Stat(filepath.Join(c.Root, c.ID)); !os.IsNotExist(err) {
				t.Errorf("delete ID --force left the state dir (%v)", err)
			}
		})
	}
}

// TestCLIUpdateCPUUnderParentLimit: lowering the CFS period together with
// the quota under a parent that has a limit (hull wrote the period first
// and failed with EINVAL), and the realtime pair the same way; runc writes
// the time first when the kernel refuses the period (for the realtime
// pair since runc 1.2: runc 1.1.5 fails there, so that case is hull's
// alone).
func TestCLIUpdateCPUUnderParentLimit(t *testing.T) {
	needV1(t, "cpu", "cpu.rt_runtime_us")
	for _, rt := range cliRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			// A parent at the top, for a realtime budget of its own
			// (the shared test parent has none).
			parent := "/hull-e2e-cli-" + uniqueName(t)
			pdir := filepath.Join("/sys/fs/cgroup/cpu", parent)
			if err := os.Mkdir(pdir, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + parent)
				for _, d := range dirs {
					removeCgroupTree(d)
				}
			})
			for file, v := range map[string]string{"cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "50000", "cpu.rt_runtime_us": "10000"} {
				if err := os.WriteFile(filepath.Join(pdir, file), []byte(v), 0); err != nil {
					t.Skipf("parent %s %s: %v", parent, file, err)
				}
			}
			c := newRuntimeContainer(t, rt, func(s *specs.Spec) {
				sleeper(s)
				q, p := int64(50000), uint64(100000)
				rtr, rtp := int64(9000), uint64(1000000)
				s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: &q, Period: &p, RealtimeRuntime: &rtr, RealtimePeriod: &rtp}}
			})
			c.Cgroup = parent + "/ctr"
			c.Spec.Linux.CgroupsPath = c.Cgroup
			c.writeSpec()
			c.runDetached()
			cases := []struct {
				flags    []string
				files    map[string]string
				hullOnly bool
			}{
				{[]string{"--cpu-period", "50000", "--cpu-quota", "25000"}, map[string]string{"cpu.cfs_period_us": "50000", "cpu.cfs_quota_us": "25000"}, false},
				{[]string{"--cpu-rt-period", "100000", "--cpu-rt-runtime", "900"}, map[string]string{"cpu.rt_period_us": "100000", "cpu.rt_runtime_us": "900"}, true},
			}
			for _, tc := range cases {
				if tc.hullOnly && rt != "hull" {
					continue
				}
				if r := c.hull(append([]string{"update", c.ID}, tc.flags...)...); r.Code != 0 {
					t.Errorf("update %v: %s", tc.flags, r)
					continue
				}
				for file, want := range tc.files {
					if got := readCgroupFile(t, c.Cgroup, "cpu", file); got != want {
						t.Errorf("update %v: %s %q, want %q", tc.flags, file, got, want)
					}
				}
			}
			// Over the parent's limit: refused, and nothing changes.
			if r := c.hull("update", c.ID, "--cpu-quota", "90000", "--cpu-period", "100000"); r.Code == 0 {
				t.Errorf("a quota over the parent's limit was accepted: %s", r)
			}
			if got := readCgroupFile(t, c.Cgroup, "cpu", "cpu.cfs_quota_us"); got != "25000" {
				t.Errorf("after a refused update: quota %q, want 25000", got)
			}
		})
	}
}

// TestCLIUpdateFlagNames: update's flags as runc spells them reach the
// cgroup, hull's earlier spellings too; runc 1.1.5 lacks --cpu-burst and
// --cpu-idle (runc 1.2+), so those run against hull alone.
func TestCLIUpdateFlagNames(t *testing.T) {
	needV1(t, "cpu", "cpu.shares")
	flags := []struct {
		flag, value, hier, file, want string
		hullOnly                      bool
	}{
		{"--cpu-share", "512", "cpu", "cpu.shares", "512", false},
		{"--cpu-shares", "256", "cpu", "cpu.shares", "256", true}, // hull's alias
		{"--cpu-quota", "30000", "cpu", "cpu.cfs_quota_us", "30000", false},
		{"--cpu-period", "60000", "cpu", "cpu.cfs_period_us", "60000", false},
		{"--cpu-burst", "1000", "cpu", "cpu.cfs_burst_us", "1000", true},
		{"--cpu-idle", "1", "cpu", "cpu.idle", "1", true},
		{"--cpuset-mems", "0", "cpuset", "cpuset.mems", "0", false},
		{"--memory-reservation", "32m", "memory", "memory.soft_limit_in_bytes", strconv.Itoa(32 << 20), false},
		{"--pids-limit", "20", "pids", "pids.max", "20", false},
	}
	for _, rt := range cliRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			c := newRuntimeContainer(t, rt, sleeper)
			c.runDetached()
			for _, f := range flags {
				if f.hullOnly && rt != "hull" {
					continue
				}
				if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", f.hier, f.file)); err != nil {
					t.Logf("%s: no %s/%s on this kernel", f.flag, f.hier, f.file)
					continue
				}
				if r := c.hull("update", c.ID, f.flag, f.value); r.Code != 0 {
					t.Errorf("update %s %s: %s", f.flag, f.value, r)
					continue
				}
				if got := readCgroupFile(t, c.Cgroup, f.hier, f.file); got != f.want {
					t.Errorf("update %s %s: %s is %q, want %q", f.flag, f.value, f.file, got, f.want)
				}
			}
		})
	}
}

// TestCLIListAndPsJSON: `list --format json` and `ps --format json` print
// one line with runc's fields; a stopped container lists with pid 0, and
// ps of it prints an empty list (the table's header, JSON null), exit 0.
func TestCLIListAndPsJSON(t *testing.T) {
	wantKeys := "bundle created id ociVersion owner pid rootfs status"
	for _, rt := range cliRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			c := newRuntimeContainer(t, rt, sleeper)
			c.runDetached()
			pid := c.state().Pid
			entry := func() map[string]any {
				r := c.mustHull("list", "--format", "json")
				if strings.Count(r.Stdout, "\n") != 1 {
					t.Fatalf("list --format json: want one line:\n%s", r.Stdout)
				}
				var list []map[string]any
				if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil || len(list) != 1 {
					t.Fatalf("list --format json: %v: %s", err, r.Stdout)
				}
				var keys []string
				for k := range list[0] {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				if got := strings.Join(keys, " "); got != wantKeys {
					t.Errorf("list fields %q, want runc's %q", got, wantKeys)
				}
				if list[0]["owner"] != "root" || list[0]["id"] != c.ID || list[0]["bundle"] != c.Bundle {
					t.Errorf("list entry %v", list[0])
				}
				return list[0]
			}
			if e := entry(); e["status"] != "running" || e["pid"] != float64(pid) {
				t.Errorf("running: list says %v, state says pid %d", e, pid)
			}
			r := c.mustHull("ps", "--format", "json", c.ID)
			if r.Stdout != "["+strconv.Itoa(pid)+"]\n" {
				t.Errorf("ps --format json: %q, want [%d] on one line", r.Stdout, pid)
			}
			c.mustHull("kill", c.ID, "KILL")
			c.waitStopped()
			if e := entry(); e["status"] != "stopped" || e["pid"] != float64(0) {
				t.Errorf("stopped: list says %v, want pid 0", e)
			}
			r = c.hull("ps", c.ID)
			if lines := strings.Split(strings.TrimSpace(r.Stdout), "\n"); r.Code != 0 || len(lines) != 1 || !strings.Contains(lines[0], "PID") {
				t.Errorf("ps of a stopped container: want the header alone, exit 0\n%s", r)
			}
			if r := c.hull("ps", "-f", "json", c.ID); r.Code != 0 || r.Stdout != "null\n" {
				t.Errorf("ps -f json of a stopped container: want null, exit 0\n%s", r)
			}
		})
	}
}

// TestCLIVersionAndHelp: --version has runc's shape (name version, then
// commit, spec, go and libseccomp lines), and every command answers -h
// and --help with its usage, exit 0.
func TestCLIVersionAndHelp(t *testing.T) {
	commands := []string{"create", "start", "state", "kill", "delete", "run", "list", "spec", "exec", "ps", "pause", "resume", "update", "events", "features", "help"}
	for _, rt := range cliRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			c := newRuntimeContainer(t, rt, nil)
			r := c.mustHull("--version")
			lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
			if !strings.HasPrefix(lines[0], rt+" version ") {
				t.Errorf("--version first line %q, want %q", lines[0], rt+" version X")
			}
			for _, key := range []string{"commit: ", "spec: ", "go: ", "libseccomp: "} {
				if !strings.Contains(r.Stdout, "\n"+key) {
					t.Errorf("--version lacks a %q line:\n%s", key, r.Stdout)
				}
			}
			// (nspawn and convert parse systemd-nspawn's flags and print
			// their own help: the machined branch's work.)
			for _, cmd := range commands {
				for _, h := range []string{"--help", "-h"} {
					r := c.hull(cmd, h)
					if r.Code != 0 || !strings.Contains(r.Stdout, "USAGE:") {
						t.Errorf("%s %s: want usage, exit 0\n%s", cmd, h, r)
					}
				}
			}
		})
	}
}

// TestCLIExecFailure: an exec whose program cannot start exits 255 with
// "exec failed", as runc, and the container keeps running; so does an
// exec into a container that does not exist.
func TestCLIExecFailure(t *testing.T) {
	for _, rt := range cliRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			c := newRuntimeContainer(t, rt, sleeper)
			c.runDetached()
			r := c.hull("exec", c.ID, "/nonexistent")
			if r.Code != 255 || !strings.Contains(r.Stderr, "exec failed") {
				t.Errorf("exec of a missing program: want 255 and \"exec failed\"\n%s", r)
			}
			c.wantStatus("running")
			r = c.hull("exec", c.ID+"-nosuch", "true")
			if r.Code != 255 || !strings.Contains(r.Stderr, "exec failed") || !strings.Contains(r.Stderr, "does not exist") {
				t.Errorf("exec into a missing container: want 255 and \"exec failed: ... does not exist\"\n%s", r)
			}
		})
	}
}

// TestCLILogFormats: --log with --log-format json holds one JSON object per
// line with level, msg and time, the error among them; text lines are
// logrus's `time="..." level=... msg="..."`. With --debug hull adds debug
// lines (runc 1.1.5 logs none for state).
func TestCLILogFormats(t *testing.T) {
	text := regexp.MustCompile(`^time="[0-9T:Z+-]+" level=[a-z]+ msg=".*"`)
	for _, rt := range cliRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			c := newRuntimeContainer(t, rt, nil)
			jsonLog, textLog := filepath.Join(c.tmp, "log.json"), filepath.Join(c.tmp, "log.txt")
			if r := c.hull("--debug", "--log", jsonLog, "--log-format", "json", "state", "nosuch"); r.Code == 0 {
				t.Fatalf("state of a missing container succeeded: %s", r)
			}
			data, _ := os.ReadFile(jsonLog)
			levels := map[string]bool{}
			for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
				var e map[string]any
				if err := json.Unmarshal([]byte(line), &e); err != nil || e["level"] == nil || e["msg"] == nil || e["time"] == nil {
					t.Errorf("json log line %q: want level, msg, time (%v)", line, err)
					continue
				}
				levels[e["level"].(string)] = true
				if e["level"] == "error" && !strings.Contains(e["msg"].(string), "does not exist") {
					t.Errorf("error line %q lacks \"does not exist\"", line)
				}
			}
			if !levels["error"] || (rt == "hull" && !levels["debug"]) {
				t.Errorf("json log levels %v:\n%s", levels, data)
			}
			c.hull("--debug", "--log", textLog, "state", "nosuch")
			data, _ = os.ReadFile(textLog)
			for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
				if !text.MatchString(line) {
					t.Errorf("text log line %q is not logrus's shape", line)
				}
			}
		})
	}
}

// TestCLIInvalidConfiguration: a cgroup v2 resource on this v1 host fails
// with runc's "invalid configuration", before anything is made.
func TestCLIInvalidConfiguration(t *testing.T) {
	needV1(t, "memory", "memory.limit_in_bytes")
	for _, rt := range cliRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			c := newRuntimeContainer(t, rt, func(s *specs.Spec) {
				s.Linux.Resources = &specs.LinuxResources{Unified: map[string]string{"memory.max": "10000000"}}
			})
			r := c.create()
			if r.Code == 0 || !strings.Contains(r.Stderr, "invalid configuration") {
				t.Errorf("unified on v1: want \"invalid configuration\"\n%s", r)
			}
			assertNothingLeft(t, c)
		})
	}
	// hull says it for every config error the validation finds.
	c := newContainer(t, func(s *specs.Spec) { s.Process.Cwd = "relative" })
	if r := c.create(); r.Code == 0 || !strings.Contains(r.Stderr, "invalid configuration") {
		t.Errorf("relative cwd: want \"invalid configuration\"\n%s", r)
	}
}

// TestCLINonEmptyCgroupWarning: a container whose cgroup already holds a
// process is created, with runc's warning in the log.
func TestCLINonEmptyCgroupWarning(t *testing.T) {
	needV1(t, "devices", "cgroup.procs")
	for _, rt := range cliRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			c := newRuntimeContainer(t, rt, sleeper)
			startSquatter(t, c.Cgroup)
			log := filepath.Join(c.tmp, "log")
			if r := c.hull("--log", log, "create", "--bundle", c.Bundle, c.ID); r.Code != 0 {
				t.Fatalf("%s", r)
			}
			c.recordInit()
			data, _ := os.ReadFile(log)
			wantContains(t, string(data), "container's cgroup is not empty: 1 process(es) found")
		})
	}
}

// TestCLIPidfdSocket: create and exec with --pidfd-socket send a pidfd of
// the init ("standard") and of the exec'd process ("setns"), as runc
// 1.2+ does (runc 1.1.5 lacks the flag: hull alone); signalling through
// the pidfd reaches the process.
func TestCLIPidfdSocket(t *testing.T) {
	c := newContainer(t, sleeper)
	sockPath := filepath.Join(c.tmp, "pidfd.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sockPath, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type got struct {
		kind string
		pid  int
		fd   int
		err  error
	}
	receive := func() chan got {
		ch := make(chan got, 1)
		go func() {
			conn, err := ln.AcceptUnix()
			if err != nil {
				ch <- got{err: err}
				return
			}
			defer conn.Close()
			buf, oob := make([]byte, 64), make([]byte, unix.CmsgSpace(4))
			n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
			if err != nil {
				ch <- got{err: err}
				return
			}
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err != nil || len(msgs) != 1 {
				ch <- got{err: fmt.Errorf("control messages %v: %v", msgs, err)}
				return
			}
			fds, err := unix.ParseUnixRights(&msgs[0])
			if err != nil || len(fds) != 1 {
				ch <- got{err: fmt.Errorf("rights %v: %v", fds, err)}
				return
			}
			ch <- got{kind: string(buf[:n]), pid: fdinfoPid(fds[0]), fd: fds[0]}
		}()
		return ch
	}
	ch := receive()
	c.mustCreate("--pidfd-socket", sockPath)
	g := <-ch
	if g.err != nil {
		t.Fatal(g.err)
	}
	unix.Close(g.fd)
	if pid := c.state().Pid; g.kind != "standard" || g.pid != pid {
		t.Errorf("create: got %q for pid %d, want \"standard\" for the init %d", g.kind, g.pid, pid)
	}
	c.mustHull("start", c.ID)
	ch = receive()
	c.mustHull("exec", "--detach", "--pidfd-socket", sockPath, c.ID, "sleep", "60")
	g = <-ch
	if g.err != nil {
		t.Fatal(g.err)
	}
	defer unix.Close(g.fd)
	if g.kind != "setns" || !slices.Contains(procsInCgroup(c.Cgroup), g.pid) || g.pid == c.state().Pid {
		t.Fatalf("exec: got %q for pid %d, want \"setns\" for a new process of the container", g.kind, g.pid)
	}
	if err := unix.PidfdSendSignal(g.fd, unix.SIGKILL, nil, 0); err != nil {
		t.Fatalf("signal through the pidfd: %v", err)
	}
	if !waitUntil(5*time.Second, func() bool { return !slices.Contains(procsInCgroup(c.Cgroup), g.pid) }) {
		t.Errorf("exec'd process %d survived SIGKILL through its pidfd", g.pid)
	}
}

// fdinfoPid is the pid a pidfd refers to.
func fdinfoPid(fd int) int {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", fd))
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "Pid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return -1
}

// TestCLIExecCgroup: exec --cgroup puts the process in an existing
// sub-cgroup, per controller on cgroup v1, as runc; a missing sub-cgroup
// or unknown controller fails the exec with 255.
func TestCLIExecCgroup(t *testing.T) {
	needV1(t, "pids", "cgroup.procs")
	for _, rt := range cliRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			c := newRuntimeContainer(t, rt, sleeper)
			c.runDetached()
			for _, h := range []string{"pids", "memory"} {
				if err := os.Mkdir(filepath.Join("/sys/fs/cgroup", h, c.Cgroup, "sub"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			r := c.hull("exec", "--cgroup", "pids:sub", "--cgroup", "memory:sub", c.ID, "cat", "/proc/self/cgroup")
			if r.Code != 0 {
				t.Fatalf("%s", r)
			}
			for _, h := range []string{"pids", "memory"} {
				if !regexp.MustCompile(`(?m):` + h + `:/(.*/)?sub$`).MatchString(r.Stdout) {
					t.Errorf("exec --cgroup %s:sub: the process is not in the sub-cgroup:\n%s", h, r.Stdout)
				}
			}
			if regexp.MustCompile(`(?m):freezer:/(.*/)?sub$`).MatchString(r.Stdout) {
				t.Errorf("freezer: want the container's own cgroup:\n%s", r.Stdout)
			}
			for _, bad := range []string{"pids:nosuch", "nosuchctl:sub", "pids:../../escape"} {
				if r := c.hull("exec", "--cgroup", bad, c.ID, "true"); r.Code != 255 {
					t.Errorf("exec --cgroup %s: want exit 255\n%s", bad, r)
				}
			}
		})
	}
}

// TestCLIRunSubreaper: in a container without a pid namespace, a process
// whose parent exits is re-parented to `run` (a child subreaper, as runc's
// run) and reaped by it when it exits; with --no-subreaper it goes to
// another ancestor. The container's own exit status is passed through either way.
//
// The orphan (cat on a fifo) lives until the script writes to the fifo, and
// the script then waits for the orphan to be reaped (or, without run as
// subreaper, to be a zombie), bounded at 10 s: fixed sleeps (an orphan of
// 0.5 s read 0.2 s later) lost the race under CI load.
func TestCLIRunSubreaper(t *testing.T) {
	const script = `mkfifo /tmp/go
sh -c 'cat /tmp/go >/dev/null & echo $! > /tmp/pid'; pid=$(cat /tmp/pid)
cut -d' ' -f4 /proc/$pid/stat; echo > /tmp/go
i=0; while [ -e /proc/$pid ] && [ $i -lt 200 ]; do
	[ "$NOSUB" = true ] && [ "$(cut -d' ' -f3 /proc/$pid/stat)" = Z ] && break
	sleep 0.05; i=$((i+1))
done
if [ -e /proc/$pid ]; then echo "left:$(cut -d' ' -f3 /proc/$pid/stat)"; else echo reaped; fi; exit 3`
	for _, rt := range cliRuntimes(t) {
		for _, noSub := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/no-subreaper=%v", rt, noSub), func(t *testing.T) {
				c := newRuntimeContainer(t, rt, func(s *specs.Spec) {
					s.Process.Args = sh(script)
					s.Process.Env = append(s.Process.Env, fmt.Sprintf("NOSUB=%v", noSub))
					var ns []specs.LinuxNamespace
					for _, n := range s.Linux.Namespaces {
						if n.Type != specs.PIDNamespace {
							ns = append(ns, n)
						}
					}
					s.Linux.Namespaces = ns
				})
				c.outDir()
				args := []string{"run", "--bundle", c.Bundle}
				if noSub {
					args = append(args, "--no-subreaper")
				}
				p := c.startHull(nil, append(args, c.ID)...)
				runPid := p.cmd.Process.Pid
				r := p.wait()
				lines := strings.Fields(r.Stdout)
				if r.Code != 3 || len(lines) != 2 {
					t.Fatalf("want the orphan's ppid and fate, exit 3\n%s", r)
				}
				ppid, _ := strconv.Atoi(lines[0])
				if got := ppid == runPid; got != !noSub {
					t.Errorf("orphan's parent %d, run's pid %d: want run as its parent %v", ppid, runPid, !noSub)
				}
				// Without run as subreaper, the orphan's fate is up to
				// whoever got it (here a zombie, for runc as for hull).
				if !noSub && lines[1] != "reaped" {
					t.Errorf("run did not reap the orphan after it exited: %q", lines[1])
				}
			})
		}
	}
}

// TestCLIFeaturesAnnotations: features carries runc's libseccomp version
// annotation, agreeing with --version, and hull's own version.
func TestCLIFeaturesAnnotations(t *testing.T) {
	c := newContainer(t, nil)
	var f struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal([]byte(c.mustHull("features").Stdout), &f); err != nil {
		t.Fatal(err)
	}
	version := c.mustHull("--version").Stdout
	lib := f.Annotations["io.github.seccomp.libseccomp.version"]
	if lib == "" || !strings.Contains(version, "libseccomp: "+lib+"\n") {
		t.Errorf("libseccomp annotation %q does not match --version:\n%s", lib, version)
	}
	if v := f.Annotations["org.hull.version"]; v == "" || !strings.HasPrefix(version, "hull version "+v+"\n") {
		t.Errorf("org.hull.version %q does not match --version:\n%s", v, version)
	}
}

// TestCLIErrorTexts: the failures scripts match on fail with runc's words
// (hull adds the container's id and context around them), non-zero.
func TestCLIErrorTexts(t *testing.T) {
	for _, rt := range cliRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			c := newRuntimeContainer(t, rt, sleeper)
			c.runDetached()
			check := func(want string, args ...string) {
				t.Helper()
				r := c.hull(args...)
				if r.Code == 0 || !strings.Contains(r.Stderr, want) {
					t.Errorf("want a failure saying %q\n%s", want, r)
				}
			}
			check("cannot start an already running container", "start", c.ID)
			check("is not stopped", "delete", c.ID)
			check("already exists", "create", "--bundle", c.Bundle, c.ID)
			check("container not paused", "resume", c.ID)
			check("unknown signal", "kill", c.ID, "NOSIG")
			check("invalid value for memory", "update", c.ID, "--memory", "abc")
			check("invalid format option", "list", "--format", "yaml")
			check("does not exist", "state", c.ID+"-nosuch")
			c.mustHull("pause", c.ID)
			check("container not running", "pause", c.ID)
			c.mustHull("resume", c.ID)
			c.mustHull("kill", c.ID, "KILL")
			c.waitStopped()
			check("cannot start a container that has stopped", "start", c.ID)
			check("container not running", "kill", c.ID)
			check("cannot exec in a stopped container", "exec", c.ID, "true")
		})
	}
}
