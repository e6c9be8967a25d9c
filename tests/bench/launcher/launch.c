/*
 * launch: starts one runtime command for the bench and reports what it
 * cost, from the runtime's own process tree only.
 *
 *   launch RESULT_FD PAUSE_US HIDE_FILE PROGRAM [ARG...]
 *
 * Why a C program between the bench and the runtime: the kernel keeps a
 * process's peak RSS (ru_maxrss) across execve as the larger of the old
 * and the new address space's high-water mark (exec_mmap saves the old
 * mm's hiwater_rss into signal->maxrss). Go starts a child with
 * clone(CLONE_VM|CLONE_VFORK), so the runtime's "old mm" is the bench's
 * own (a Go heap of tens of MiB), and wait4's ru_maxrss is then the
 * bench's RSS whenever the runtime is smaller. A fork copies the parent's
 * anonymous pages into the child's count the same way. This program is
 * static and tiny: the runtime it spawns starts from its few hundred KiB,
 * so ru_maxrss of wait4 here is the runtime's own peak, or that of a
 * child it waited for (the container's init in `run`), whichever is
 * larger — as /usr/bin/time -v reports it.
 *
 * RESULT_FD ("-": none) receives one line after the runtime exits:
 *   wall_ns utime_us stime_us maxrss_kib minflt majflt nvcsw nivcsw status
 * wall is CLOCK_MONOTONIC from just before the spawn to the reap; the
 * other fields are wait4's rusage of the runtime and its waited-for
 * children. PAUSE_US is slept before the clock starts (the warm and cold
 * regimes), so the machine is quiet from the bench's side while it waits.
 * HIDE_FILE ("-": none) is bound over the hybrid host's
 * /sys/fs/cgroup/unified/cgroup.controllers in a mount namespace of this
 * process alone, also before the clock starts: crun 1.8 refuses a hybrid
 * host whose cgroup2 has controllers, and only crun is given this.
 *
 * Exit status: the runtime's (128+N when killed by signal N); 125 when
 * this program itself failed, 127 when the runtime could not be started.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char controllers[] = "/sys/fs/cgroup/unified/cgroup.controllers";

static int fail(const char *what, const char *arg)
{
	fprintf(stderr, "bench launch: %s %s: %s\n", what, arg, strerror(errno));
	return 125;
}

static int hide_controllers(const char *empty)
{
	if (unshare(CLONE_NEWNS) < 0)
		return fail("unshare", "CLONE_NEWNS");
	/* Nothing bound here may reach the bench's namespace, let alone the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail("make / private", "");
	if (mount(empty, controllers, NULL, MS_BIND, NULL) < 0)
		return fail("bind over", controllers);
	return 0;
}

static long long ns(const struct timespec *t)
{
	return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static long long us(const struct timeval *t)
{
	return (long long)t->tv_sec * 1000000LL + t->tv_usec;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: launch RESULT_FD PAUSE_US HIDE_FILE PROGRAM [ARG...]\n");
		return 125;
	}
	int out = strcmp(argv[1], "-") ? atoi(argv[1]) : -1;
	long pause_us = atol(argv[2]);
	if (out >= 0 && fcntl(out, F_SETFD, FD_CLOEXEC) < 0)
		return fail("result fd", argv[1]);
	if (strcmp(argv[3], "-")) {
		int rc = hide_controllers(argv[3]);
		if (rc)
			return rc;
	}
	if (pause_us > 0) {
		struct timespec p = { pause_us / 1000000, (pause_us % 1000000) * 1000 };
		while (nanosleep(&p, &p) < 0 && errno == EINTR)
			;
	}

	struct timespec t0, t1;
	pid_t pid;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int err = posix_spawn(&pid, argv[4], NULL, NULL, &argv[4], environ);
	if (err) {
		errno = err;
		fail("start", argv[4]);
		return 127;
	}
	int status;
	struct rusage ru;
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR)
			return fail("wait4", argv[4]);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (out >= 0) {
		dprintf(out, "%lld %lld %lld %ld %ld %ld %ld %ld %d\n", ns(&t1) - ns(&t0),
			us(&ru.ru_utime), us(&ru.ru_stime), ru.ru_maxrss, ru.ru_minflt,
			ru.ru_majflt, ru.ru_nvcsw, ru.ru_nivcsw, code);
	}
	return code;
}
