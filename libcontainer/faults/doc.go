// Package faults marks the named steps of hull's commands as fault points:
// places where a test may SIGKILL the process to check that nothing is left
// behind (tests/e2e TestFaultsEveryPoint).
//
// In the release build Hit does nothing and Env returns nil; the calls
// compile away. Built with the tag hullfaults, Hit reads the environment:
//
//	HULL_FAULT=NAME       SIGKILL this process the first time it hits NAME
//	HULL_FAULT=NAME:N     ... the N-th time (counted per process)
//	HULL_FAULT_TRACE=1    print "hull-fault-point PID NAME" on stderr at every hit
//
// A killed process first prints "hull-fault-killed PID NAME" on stderr, so
// a test can tell that the point was reached. The init of a pid namespace
// cannot SIGKILL itself (the kernel ignores it): it exits with status 137. Names are "command/step"
// ("create/cgroup made", "init/pivot root"); the init's names come from
// its step table, so a step added there is a fault point without more code.
package faults

// Names of the environment variables, for the processes hull starts: Env
// passes them on where hull gives a child an environment of its own.
const (
	EnvFault = "HULL_FAULT"
	EnvTrace = "HULL_FAULT_TRACE"
	// EnvTag is not read by hull: a test sets it to find every process a
	// command started (in /proc/PID/environ) until they exec.
	EnvTag = "HULL_FAULT_TAG"
)
