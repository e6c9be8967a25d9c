//go:build hullfaults

package faults

import (
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Enabled says whether this build has fault points.
const Enabled = true

// hits counts each name's hits in this process, for NAME:N. A process-wide
// counter is the one piece of global state here: the points are spread over
// the start path, which has no context to carry it, and the release build
// does not have it.
var hits = struct {
	sync.Mutex
	n map[string]int
}{n: map[string]int{}}

// Hit is a fault point: traced and, when HULL_FAULT names it, the end of
// this process.
func Hit(name string) {
	hits.Lock()
	hits.n[name]++
	n := hits.n[name]
	hits.Unlock()
	if os.Getenv(EnvTrace) != "" {
		fmt.Fprintf(os.Stderr, "hull-fault-point %d %s\n", os.Getpid(), name)
	}
	want, wantN := Parse(os.Getenv(EnvFault))
	if want != name || wantN != n {
		return
	}
	fmt.Fprintf(os.Stderr, "hull-fault-killed %d %s\n", os.Getpid(), name)
	if os.Getpid() == 1 {
		// The kernel ignores a SIGKILL that a pid namespace's init sends
		// itself; exit_group ends it as abruptly (no deferred function,
		// no cleanup), only with status 137 instead of the signal.
		unix.Exit(137)
	}
	for {
		unix.Kill(os.Getpid(), unix.SIGKILL)
		time.Sleep(time.Millisecond)
	}
}

// HitStep is the fault point "command/step".
func HitStep(command, step string) { Hit(command + "/" + step) }

// Env is the fault variables of this process, for a child started with an
// environment of its own (the container's init).
func Env() []string {
	var env []string
	for _, k := range []string{EnvFault, EnvTrace, EnvTag} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
