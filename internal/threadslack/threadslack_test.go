package threadslack

import (
	"fmt"
	"os"
	osexec "os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// threadReport is what a goroutine locked to its thread saw there.
type threadReport struct {
	mainThread bool
	slack      uint64
	err        error
}

// onThreads runs f on n goroutines at once, each locked to its own thread
// until all have run it (so at most one of them is the main thread), and
// reports each thread's timer slack after f.
func onThreads(n int, f func() error) []threadReport {
	reports := make([]threadReport, n)
	var ran, done sync.WaitGroup
	ran.Add(n)
	done.Add(n)
	release := make(chan struct{})
	for i := range reports {
		go func() {
			defer done.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			if f != nil {
				reports[i].err = f()
			}
			reports[i].mainThread, reports[i].slack = unix.Gettid() == unix.Getpid(), threadSlack()
			ran.Done()
			<-release
		}()
	}
	ran.Wait()
	close(release)
	done.Wait()
	return reports
}

// The threads the runtime starts sleep with a slack of 1 ms; the main
// thread keeps the caller's. The test runs itself again with a caller's
// slack it chose (a child inherits its forking thread's), so that it knows
// what the caller's is.
func TestThreadSlack(t *testing.T) {
	const callers = 77000 // ns: neither the kernel's default nor threadSlackNs
	if os.Getenv("THREADSLACK_CHILD") == "" {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		old := threadSlack()
		if err := unix.Prctl(unix.PR_SET_TIMERSLACK, callers, 0, 0, 0); err != nil {
			t.Fatal(err)
		}
		cmd := osexec.Command(os.Args[0], "-test.run=^TestThreadSlack$", "-test.v")
		cmd.Env = append(os.Environ(), "THREADSLACK_CHILD="+strconv.Itoa(callers))
		out, err := cmd.CombinedOutput()
		unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(old), 0, 0, 0)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return
	}
	if got := callerSlack(); got != callers {
		t.Fatalf("caller's slack recorded as %d ns, want %d", got, callers)
	}
	others := 0
	for _, r := range onThreads(4, nil) {
		want := uint64(threadSlackNs)
		if r.mainThread {
			want = callers
		} else {
			others++
		}
		if r.slack != want {
			t.Errorf("thread (main: %v) has a timer slack of %d ns, want %d", r.mainThread, r.slack, want)
		}
	}
	if others == 0 {
		t.Fatal("no goroutine ran on a thread the runtime started")
	}
	checkSysmon(t)
	// WithCallerSlack: the caller's inside, the thread's own after.
	var inside sync.Map
	for _, r := range onThreads(4, func() error {
		return WithCallerSlack(func() error {
			inside.Store(unix.Gettid(), threadSlack())
			return nil
		})
	}) {
		want := uint64(threadSlackNs)
		if r.mainThread {
			want = callers
		}
		if r.err != nil || r.slack != want {
			t.Errorf("after WithCallerSlack (main thread: %v): slack %d ns, error %v; want %d ns", r.mainThread, r.slack, r.err, want)
		}
	}
	inside.Range(func(tid, slack any) bool {
		if slack.(uint64) != callers {
			t.Errorf("thread %d in WithCallerSlack: slack %d ns, want the caller's %d", tid, slack, callers)
		}
		return true
	})
	for _, r := range onThreads(4, restoreCallerSlack) {
		if r.err != nil || r.slack != callers {
			t.Errorf("after restoreCallerSlack (main thread: %v): slack %d ns, error %v; want %d ns", r.mainThread, r.slack, r.err, callers)
		}
	}
}

// checkSysmon: the first thread the runtime started has sysmon's slack,
// and it is sysmon: while a goroutine runs (so that sysmon does not park,
// as it does for an idle program), it is found in nanosleep, the system
// call of sysmon's usleep, where every other thread of the runtime parks
// in futex.
func checkSysmon(t *testing.T) {
	t.Helper()
	// The thread records itself when it first runs, which on a loaded
	// machine (CI's parallel packages) may come after this test started.
	tid := sysmonTid()
	for deadline := time.Now().Add(2 * time.Second); tid == 0 && time.Now().Before(deadline); tid = sysmonTid() {
		time.Sleep(time.Millisecond)
	}
	if tid == 0 {
		t.Fatal("no thread recorded as the runtime's first")
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/timerslack_ns", tid))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(data)); got != strconv.Itoa(sysmonSlackNs) {
		t.Errorf("first thread %d: timer slack %s ns, want %d", tid, got, sysmonSlackNs)
	}
	var stop atomic.Bool
	defer stop.Store(true)
	go func() {
		for spins := 0; !stop.Load(); spins++ {
		}
	}()
	const samples = 40
	sleeping := 0
	for range samples {
		time.Sleep(5 * time.Millisecond)
		call, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/syscall", tid))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(string(call), strconv.Itoa(unix.SYS_NANOSLEEP)+" ") {
			sleeping++
		}
	}
	if sleeping < samples/2 {
		t.Errorf("first thread %d was in nanosleep in %d of %d samples: not sysmon", tid, sleeping, samples)
	}
}
