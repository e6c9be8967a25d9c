package sigcatch

import (
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	_ "github.com/hull-runtime/hull/internal/threadslack"
)

func TestCatchRefuses(t *testing.T) {
	for _, sig := range []unix.Signal{0, -1, 65, unix.SIGKILL, unix.SIGSTOP, unix.SIGPIPE, unix.SIGURG, unix.SIGPROF, 32, 33, 34} {
		if err := Catch(make(chan unix.Signal, 1), sig); err == nil {
			t.Errorf("Catch(%d): no error", int(sig))
		}
	}
}

// TestForwardable pins the set to what signal.Notify(ch) caught, less
// the four that are hull's own.
func TestForwardable(t *testing.T) {
	sigs := Forwardable()
	for _, own := range []unix.Signal{unix.SIGPIPE, unix.SIGCHLD, unix.SIGURG, unix.SIGPROF, unix.SIGKILL, unix.SIGSTOP, unix.SIGSEGV, 32, 33, 34} {
		if slices.Contains(sigs, own) {
			t.Errorf("Forwardable has %v", own)
		}
	}
	for _, want := range []unix.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGWINCH, unix.SIGCONT, unix.SIGTSTP, 35, 37, 64} {
		if !slices.Contains(sigs, want) {
			t.Errorf("Forwardable lacks %v", want)
		}
	}
	if len(sigs) != 18+30 {
		t.Errorf("Forwardable has %d signals, want 48", len(sigs))
	}
}

func recv(t *testing.T, ch <-chan unix.Signal) (unix.Signal, bool) {
	t.Helper()
	select {
	case s := <-ch:
		return s, true
	case <-time.After(10 * time.Second): // a loaded host may hold the signal goroutine back
		return 0, false
	}
}

// TestCatchDelivers sends real signals to the test process: caught ones
// arrive on their channel (the process would die of SIGTERM and SIGUSR2
// otherwise), a released channel gets nothing more, and a signal routed
// anew goes to its new channel.
func TestCatchDelivers(t *testing.T) {
	a, b := make(chan unix.Signal, 4), make(chan unix.Signal, 4)
	if err := Catch(a, unix.SIGTERM, unix.SIGUSR2, unix.Signal(40)); err != nil {
		t.Fatal(err)
	}
	// Caught before Listen: held, then delivered.
	unix.Kill(os.Getpid(), unix.SIGUSR2)
	select {
	case s := <-a:
		t.Fatalf("%v delivered before Listen", s)
	case <-time.After(50 * time.Millisecond):
	}
	Listen()
	if got, ok := recv(t, a); !ok || got != unix.SIGUSR2 {
		t.Fatalf("held SIGUSR2: got %v (received: %v)", got, ok)
	}
	for _, sig := range []unix.Signal{unix.SIGTERM, unix.SIGUSR2, unix.Signal(40)} {
		if err := unix.Kill(os.Getpid(), sig); err != nil {
			t.Fatal(err)
		}
		if got, ok := recv(t, a); !ok || got != sig {
			t.Fatalf("sent %v, got %v (received: %v)", sig, got, ok)
		}
	}
	if err := Catch(b, unix.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	unix.Kill(os.Getpid(), unix.SIGUSR2)
	if got, ok := recv(t, b); !ok || got != unix.SIGUSR2 {
		t.Fatalf("SIGUSR2 routed to b: got %v (received: %v)", got, ok)
	}
	Release(a)
	unix.Kill(os.Getpid(), unix.SIGTERM)
	unix.Kill(os.Getpid(), unix.SIGUSR2)
	if got, ok := recv(t, b); !ok || got != unix.SIGUSR2 {
		t.Fatalf("after Release(a), b: got %v (received: %v)", got, ok)
	}
	select {
	case s := <-a:
		t.Fatalf("released channel got %v", s)
	default:
	}
}

// TestDeliverLetsReceiverRun: with one processor (GOMAXPROCS=1, as the Go
// runtime sets under a one-CPU cgroup limit), the goroutine that hands a
// signal over must let its receiver run before it blocks in read(2) again,
// which keeps the processor: else the receiver waits for the runtime's
// monitor to take the processor back, 10-20 ms at the timer slack hull
// gives the monitor (internal/threadslack, imported here for that).
func TestDeliverLetsReceiverRun(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	ch := make(chan unix.Signal, 1)
	sig := unix.Signal(42)
	if err := Catch(ch, sig); err != nil {
		t.Fatal(err)
	}
	defer Release(ch)
	Listen()
	// Without the yield most hand-overs wait 5-10 ms (some find the
	// processor free and take 0.1 ms); with it each takes about 0.1 ms.
	const rounds, slow = 21, 5 * time.Millisecond
	var took []time.Duration
	late := 0
	for range rounds {
		time.Sleep(20 * time.Millisecond) // the monitor backs off meanwhile
		start := time.Now()
		unix.Kill(os.Getpid(), sig)
		if _, ok := recv(t, ch); !ok {
			t.Fatalf("signal %d not delivered", sig)
		}
		d := time.Since(start)
		took = append(took, d)
		if d > slow {
			late++
		}
	}
	if late > rounds/3 {
		t.Errorf("%d of %d signals handed over after more than %v (%v): the receiver waited for the runtime's monitor", late, rounds, slow, took)
	}
}
