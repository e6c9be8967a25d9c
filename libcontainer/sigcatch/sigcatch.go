// Package sigcatch receives the signals hull forwards to a container's
// process without os/signal's cost.
//
// signal.Notify enables each signal through a goroutine locked to a thread
// of its own (the runtime's signal-mask thread): two handoffs to that
// thread and back per signal, about 60 signals for "all of them", which
// cost `hull run` some 130 context switches, two threads and 1.5-3 ms of
// CPU. Here one C handler, installed with a single sigaction per signal,
// writes the signal's number to a pipe; once the caller is ready for them
// (Listen), a goroutine reads the pipe and hands each number to the
// channel that asked for it. Until then the pipe holds them.
//
// Signal dispositions belong to the process, so the package keeps the one
// pipe and the table of channels as process-wide state.
package sigcatch

/*
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int hull_sigcatch_fd = -1;

static void hull_sigcatch_handler(int sig) {
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	// The write end is non-blocking: with the pipe full the signal is
	// dropped, as os/signal drops one for a full channel.
	ssize_t r = write(hull_sigcatch_fd, &b, 1);
	(void)r;
	errno = saved;
}

// SA_ONSTACK: a signal may arrive on any of the Go runtime's threads, which
// run goroutines on small stacks; each has a signal stack of its own. The
// cgo documentation requires it of any handler installed by C code.
static int hull_sigcatch(int fd, const int *sigs, int n) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = hull_sigcatch_handler;
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	hull_sigcatch_fd = fd;
	for (int i = 0; i < n; i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return errno;
	return 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// numSig bounds signal numbers (1..64 on Linux).
const numSig = 65

// router is the process's one pipe and where each signal goes.
var router struct {
	once   sync.Once
	err    error
	wfd    int
	rfd    int
	listen sync.Once
	mu     sync.Mutex
	route  [numSig]chan<- unix.Signal
}

// Forwardable are the signals a runtime passes on to the process it waits
// for: every signal os/signal's Notify catches when given none, but
// SIGPIPE (a write to a closed pipe is hull's own business: see Catch),
// SIGCHLD, SIGURG (the Go scheduler's preemption) and SIGPROF. glibc's
// own signals (32 and 33), 34 (musl's, which the Go runtime keeps for
// itself everywhere, so runc passes it on no more than hull did) and the
// synchronous ones stay untouched.
func Forwardable() []unix.Signal {
	sigs := []unix.Signal{
		unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGABRT, unix.SIGUSR1, unix.SIGUSR2,
		unix.SIGALRM, unix.SIGTERM, unix.SIGCONT, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU,
		unix.SIGXCPU, unix.SIGXFSZ, unix.SIGVTALRM, unix.SIGWINCH, unix.SIGIO, unix.SIGPWR,
	}
	for s := unix.Signal(35); s <= 64; s++ { // SIGRTMIN+1 as glibc counts .. SIGRTMAX
		sigs = append(sigs, s)
	}
	return sigs
}

// Catch makes each of sigs arrive on ch (once Listen was called) instead
// of taking its default action, from now until hull exits; a signal caught earlier for another
// channel goes to ch from now on. Sends never block: a signal that finds
// ch full is dropped. SIGPIPE is refused: the Go runtime kills a program
// whose write to stdout or stderr fails with EPIPE unless os/signal
// catches SIGPIPE, which only signal.Notify can tell it.
func Catch(ch chan<- unix.Signal, sigs ...unix.Signal) error {
	nums := make([]C.int, 0, len(sigs))
	for _, s := range sigs {
		if s <= 0 || s >= numSig || s == unix.SIGKILL || s == unix.SIGSTOP || s == unix.SIGPIPE || s == unix.SIGURG || s == unix.SIGPROF || s == 32 || s == 33 || s == 34 {
			return fmt.Errorf("sigcatch: cannot catch signal %d (%v)", int(s), s)
		}
		nums = append(nums, C.int(s))
	}
	router.once.Do(start)
	if router.err != nil {
		return router.err
	}
	router.mu.Lock()
	for _, s := range sigs {
		router.route[s] = ch
	}
	router.mu.Unlock()
	if len(nums) == 0 {
		return nil
	}
	if errno := C.hull_sigcatch(C.int(router.wfd), (*C.int)(unsafe.Pointer(&nums[0])), C.int(len(nums))); errno != 0 {
		return fmt.Errorf("sigcatch: sigaction: %w", unix.Errno(errno))
	}
	return nil
}

// Release stops sending signals to ch. They stay caught: a signal with
// nowhere to go is dropped, as it was with os/signal after signal.Stop
// while another channel still wanted it.
func Release(ch chan<- unix.Signal) {
	router.mu.Lock()
	defer router.mu.Unlock()
	for i, c := range router.route {
		if c == ch {
			router.route[i] = nil
		}
	}
}

// Listen starts handing caught signals to their channels, those caught
// since Catch first. Reading only from here on keeps a goroutine from
// sitting in a read(2) meanwhile: after 10 ms in a system call the
// runtime's monitor takes its processor back and goes back to waking every
// 20 µs, some 60 context switches of hull run's create.
func Listen() {
	router.listen.Do(func() {
		if router.err == nil && router.rfd > 0 {
			go deliver(router.rfd)
		}
	})
}

// start makes the pipe, once per process.
func start() {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		router.err = fmt.Errorf("sigcatch: pipe: %w", err)
		return
	}
	if err := unix.SetNonblock(p[1], true); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		router.err = fmt.Errorf("sigcatch: pipe: %w", err)
		return
	}
	router.rfd, router.wfd = p[0], p[1]
}

// deliver reads signal numbers off the pipe for good: a blocking read, no
// poller, as hull exits while it waits.
func deliver(rfd int) {
	var buf [64]byte
	for {
		n, err := unix.Read(rfd, buf[:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n <= 0 {
			return
		}
		handed := false
		for _, b := range buf[:n] {
			router.mu.Lock()
			ch := router.route[b]
			router.mu.Unlock()
			if ch == nil {
				continue
			}
			select {
			case ch <- unix.Signal(b):
				handed = true
			default:
			}
		}
		if handed {
			// Let the receiver run before this goroutine blocks in
			// read(2) again: blocked there it keeps its processor, and
			// with GOMAXPROCS=1 the receiver, readied onto that
			// processor, would wait for the runtime's monitor (sysmon)
			// to take it back, some 10 ms at sysmon's timer slack.
			runtime.Gosched()
		}
	}
}
