/*
 * The Go runtime's helper threads wake often: sysmon sleeps 20 us at a
 * time while the program is young, idle threads spin and sleep a few
 * microseconds before they park. A hull command lives 10-30 ms, and those
 * wake-ups were 120 of the 190 context switches of a `hull run` and 2 ms
 * of its CPU on this project's machine (a virtual machine, where a wake-up
 * costs an exit to the hypervisor).
 *
 * A thread's timer slack lets the kernel fire its sleeps late, together
 * with other timers. Every thread the runtime creates (through
 * pthread_create: -Wl,--wrap=pthread_create) starts with a slack of 1 ms,
 * unless the caller's is already larger. The main thread keeps the
 * caller's. A child inherits the slack of the thread that forks it (and
 * makes it its default), so whatever forks a container's process or a hook
 * from a thread the runtime started sets the caller's slack on that thread
 * first (threadslack.go: WithCallerSlack).
 *
 * The first thread the runtime starts is sysmon, its monitor: runtime.main
 * starts it before any package init or goroutine can start another, and it
 * runs no goroutine, only its own loop. It sleeps 20 us at a time while it
 * finds work and backs off to 10 ms sleeps once idle. With a 1 ms slack its
 * wake-ups were still 48 of a `hull run`'s ~90 context switches, so it gets
 * a 10 ms slack, its own idle period: `run` 80 -> 57 switches and 1.2 ms
 * less CPU, `exec` 51 -> 36 and 0.6 ms less. What waits on its rounds gets
 * them later: taking back a processor from a thread blocked in a system
 * call (for a goroutine that is ready while every processor is held: with
 * GOMAXPROCS=1 a single blocked read holds them all), preempting a
 * goroutine that runs for over 10 ms. So a goroutine that readies another
 * and then blocks in a system call keeps the other waiting for sysmon:
 * sigcatch's deliver yields before it reads again.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "threadslack.h"

int __real_pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);

/* The raw system call: glibc's prctl() returns an int, and a slack of more
 * than 2^31 ns would not fit. */
static unsigned long get_slack(void)
{
	long slack = syscall(SYS_prctl, PR_GET_TIMERSLACK, 0, 0, 0, 0);
	return slack > 0 ? (unsigned long)slack : 0;
}

/* Written once, by the constructor, before any other thread exists. */
static unsigned long caller_slack_ns;

__attribute__((constructor)) static void record_caller_slack(void)
{
	caller_slack_ns = get_slack();
}

unsigned long hull_caller_slack(void)
{
	return caller_slack_ns;
}

unsigned long hull_thread_slack(void)
{
	return get_slack();
}

int hull_thread_slack_set(unsigned long ns)
{
	/* 0 would mean "back to this thread's default", which is not ns. And a
	 * thread that has ns already needs no call: where prctl is refused
	 * (a sandbox's seccomp filter), no thread ever changed its slack. */
	if (ns == 0 || get_slack() == ns)
		return 0;
	return prctl(PR_SET_TIMERSLACK, ns, 0, 0, 0);
}

struct thread_start {
	void *(*fn)(void *);
	void *arg;
	int sysmon;
};

/* Set once the first thread is asked for: a failed create gives the mark
 * back (glibc's pthread_create retried on EAGAIN comes through here again),
 * a wrapper that cannot allocate keeps it (no later thread is sysmon). */
static int sysmon_taken;
static int sysmon_tid;

int hull_sysmon_tid(void)
{
	return __atomic_load_n(&sysmon_tid, __ATOMIC_ACQUIRE);
}

static void *coarse_thread(void *p)
{
	struct thread_start start = *(struct thread_start *)p;
	free(p);
	unsigned long slack = start.sysmon ? HULL_SYSMON_SLACK_NS : HULL_THREAD_SLACK_NS;
	if (caller_slack_ns < slack)
		prctl(PR_SET_TIMERSLACK, slack, 0, 0, 0); /* a refusal changes nothing */
	if (start.sysmon)
		__atomic_store_n(&sysmon_tid, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
	return start.fn(start.arg);
}

int __wrap_pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	struct thread_start *start = malloc(sizeof *start);
	if (!start) {
		__atomic_store_n(&sysmon_taken, 1, __ATOMIC_RELAXED);
		return __real_pthread_create(thread, attr, fn, arg);
	}
	start->fn = fn;
	start->arg = arg;
	start->sysmon = !__atomic_exchange_n(&sysmon_taken, 1, __ATOMIC_RELAXED);
	int err = __real_pthread_create(thread, attr, coarse_thread, start);
	if (err) {
		if (start->sysmon)
			__atomic_store_n(&sysmon_taken, 0, __ATOMIC_RELAXED);
		free(start);
	}
	return err;
}
