/*
 * hull's namespace entry, run before the Go runtime starts.
 *
 * setns(2) into a mount or user namespace fails in a multi-threaded process,
 * and a Go program has several threads before main() runs. So when hull
 * re-executes itself as a container's init (or an exec'd process), this
 * constructor does the namespace work first, while the process is still
 * single-threaded, then lets the Go runtime start in the final process.
 *
 * hull_stage does it: called by a constructor in hull's own binary (nsenter.go),
 * and by main() in hull-stage (stage_main.c), a small static program built
 * from these same sources that runs only the finisher's paths. It does
 * nothing unless _HULL_NSENTER is set. The parent passes the rest in
 * the environment (small, and readable without parsing a protocol):
 *   _HULL_NSENTER       fd of the sync socket to the parent
 *   _HULL_MNTNS         mount namespace to enter before anything else
 *   _HULL_JOIN          namespaces to join, "type:path" per line
 *   _HULL_UNSHARE       clone flags of the namespaces to create (decimal)
 *   _HULL_TIMENS        text for /proc/self/timens_offsets
 *   _HULL_CGROUP        cgroup to be born in: "t:<v1 tasks file>" and
 *                       "c:<cgroup2 directory>" lines (join_cgroups)
 *   _HULL_FINISH        set: the container process runs the C finisher
 *                       (finish.c) instead of returning into Go
 *
 * Steps, in order: join the container's cgroup (before anything else: the
 * paths are the host's); setns into _HULL_MNTNS (the caller's own mount namespace:
 * this process was started in exeseal's private one, whose mounts are slaves
 * of the host's, and a container's new mount namespace copied from it could
 * never propagate a mount back to the host, as rshared asks); setns into the
 * joined namespaces,
 * user first and mount last; create a user namespace and wait while the parent
 * writes its id maps; create the other namespaces; then clone the final
 * process with CLONE_PARENT, so it is hull's child (hull run can wait for it),
 * lands in the new pid and time namespaces, and is PID 1 in a new pid ns.
 * This process reports the final pid and exits. The final process is born
 * in the container's cgroup (the parent only checks, and places it where
 * the kernel refused clone3); a new cgroup namespace is made by the Go init
 * once it is there. With _HULL_FINISH the final process never returns into
 * Go: finish.c applies the process message and execs.
 *
 * Messages to the parent are framed as: 1 type byte, 4-byte length (host
 * order), payload. 'M': write my id maps (answered by 'm'); 'P': decimal pid
 * of the final process; 'E': error text.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "errtext.h"
#include "nsenter.h"
#include "faults.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

#define MAX_JOIN 8

static int sync_fd = -1;

int hull_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * hull_send_msg writes a frame in one write(2) when it is small (every
 * message but a long error): written as header then payload, the parent
 * woke for the header and blocked again for the payload, two wake-ups of
 * its reading thread instead of one.
 */
int hull_send_msg(int fd, char type, const void *payload, uint32_t len)
{
	char frame[2048];
	frame[0] = type;
	memcpy(frame + 1, &len, 4);
	if (len <= sizeof(frame) - 5) {
		if (len > 0)
			memcpy(frame + 5, payload, len);
		return hull_write_all(fd, frame, 5 + (size_t)len);
	}
	if (hull_write_all(fd, frame, 5) < 0 || hull_write_all(fd, payload, len) < 0)
		return -1;
	return 0;
}

static void send_msg(char type, const char *payload)
{
	if (hull_send_msg(sync_fd, type, payload, (uint32_t)strlen(payload)) < 0)
		_exit(1);
}

/*
 * hull_errtext is Go's text of errno err (syscall.Errno's Error(), from
 * errtext.h), so that the stage's and the finisher's errors read as the Go
 * init's whichever C library they are linked against: glibc and musl word
 * 73 errnos differently ("too many levels of symbolic links", "symbolic
 * link loop"). buf holds the text of an errno Go does not name.
 */
const char *hull_errtext(int err, char *buf, size_t len)
{
	if (err > 0 && (size_t)err < sizeof(hull_errno_texts) / sizeof(hull_errno_texts[0]) &&
	    hull_errno_texts[err] != NULL)
		return hull_errno_texts[err];
	snprintf(buf, len, "errno %d", err);
	return buf;
}

/* fail reports the failed step and its errno to the parent, then exits. */
static void fail(const char *fmt, ...)
{
	char msg[1024];
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	char text[32];
	if (n >= 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", hull_errtext(saved, text, sizeof(text)));
	send_msg('E', msg);
	_exit(1);
}

static void wait_for(char want)
{
	char head[5];
	ssize_t n;
	do
		n = read(sync_fd, head, sizeof(head));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(head) || head[0] != want) {
		errno = EPROTO;
		fail("nsenter: waiting for parent message '%c'", want);
	}
}

static void write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		fail("open %s", path);
	if (hull_write_all(fd, data, strlen(data)) < 0)
		fail("write %s", path);
	close(fd);
}

struct ns_join {
	int fd;
	int is_user, is_mnt;
	const char *path;
};

/*
 * join_namespaces opens every path before entering any namespace (a joined
 * mount namespace would change what later paths mean), then enters the user
 * namespace first, so the others are entered with its privileges, and the
 * mount namespace last.
 */
static void join_namespaces(char *list)
{
	struct ns_join ns[MAX_JOIN];
	int count = 0;
	for (char *line = strtok(list, "\n"); line; line = strtok(NULL, "\n")) {
		char *path = strchr(line, ':');
		if (!path || count == MAX_JOIN) {
			errno = EINVAL;
			fail("nsenter: bad namespace entry %s", line);
		}
		*path++ = '\0';
		ns[count].fd = open(path, O_RDONLY | O_CLOEXEC);
		if (ns[count].fd < 0)
			fail("open %s namespace %s", line, path);
		ns[count].is_user = strcmp(line, "user") == 0;
		ns[count].is_mnt = strcmp(line, "mnt") == 0;
		ns[count].path = path;
		count++;
	}
	for (int pass = 0; pass < 3; pass++) {
		for (int i = 0; i < count; i++) {
			int order = ns[i].is_user ? 0 : ns[i].is_mnt ? 2 : 1;
			if (order != pass)
				continue;
			if (setns(ns[i].fd, 0) < 0)
				fail("setns %s", ns[i].path);
			close(ns[i].fd);
		}
	}
}

/* become_root makes this process root of its new user namespace once the parent mapped it. */
static void become_root(void)
{
	/* Dumpable while the parent writes the maps: an unprivileged parent
	 * cannot open the /proc files of a non-dumpable process (runc does so). */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		fail("prctl PR_SET_DUMPABLE 1");
	send_msg('M', "");
	wait_for('m');
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail("prctl PR_SET_DUMPABLE 0");
	if (setresgid(0, 0, 0) < 0)
		fail("setresgid 0 in the new user namespace (is uid/gid 0 mapped?)");
	if (setresuid(0, 0, 0) < 0)
		fail("setresuid 0 in the new user namespace (is uid/gid 0 mapped?)");
}

/*
 * join_cgroups puts this single-threaded process into the container's
 * cgroup before it clones, so the container process is born there: on v1
 * by writing "0" to each hierarchy's tasks file ("t:" lines; moving one
 * thread takes no threadgroup lock, so no RCU grace period as a
 * cgroup.procs write waits for), on the unified hierarchy by returning a
 * directory fd for clone3's CLONE_INTO_CGROUP ("c:" line).
 */
static int join_cgroups(char *list)
{
	int dirfd = -1;
	for (char *line = strtok(list, "\n"); line; line = strtok(NULL, "\n")) {
		if (strncmp(line, "c:", 2) == 0) {
			dirfd = open(line + 2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (dirfd < 0)
				fail("join cgroup %s", line + 2);
			continue;
		}
		if (strncmp(line, "t:", 2) != 0) {
			errno = EINVAL;
			fail("nsenter: bad cgroup entry %s", line);
		}
		write_file(line + 2, "0");
	}
	return dirfd;
}

struct clone_args_v2 {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

/*
 * clone_child clones the container process as hull's child (CLONE_PARENT),
 * into cgroup_fd's cgroup when given. A kernel without clone3 or
 * CLONE_INTO_CGROUP gets a plain clone; the parent then places the process.
 */
static pid_t clone_child(int cgroup_fd)
{
	if (cgroup_fd >= 0) {
		struct clone_args_v2 args = {0};
		/* exit_signal stays 0: clone3 refuses one with CLONE_PARENT, and
		 * the child gets this process's (SIGCHLD) as with clone. */
		args.flags = CLONE_PARENT | CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)cgroup_fd;
		long pid = syscall(SYS_clone3, &args, sizeof(args));
		if (pid >= 0)
			return (pid_t)pid;
		/* EACCES/EPERM: this process's credentials (a new user
		 * namespace's root) may not write that cgroup's cgroup.procs;
		 * ENOENT: cgroup2 mounted with nsdelegate (systemd does) refuses
		 * a move from outside the cgroup namespace this process joined
		 * (hull exec into a container with a cgroup namespace).
		 * The parent, which can, places the process. */
		if (errno != ENOSYS && errno != E2BIG && errno != EINVAL && errno != EOPNOTSUPP && errno != EACCES &&
		    errno != EPERM && errno != ENOENT)
			fail("clone container process into its cgroup");
	}
	return (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
}

#ifdef HULL_MUSL
/*
 * musl keeps each thread's id in the thread's descriptor and updates it
 * only in its own fork. After clone_child's raw clone a container process
 * that goes on into the Go runtime would carry this process's id there,
 * and musl would take it for a thread of another process: its __synccall,
 * behind setresuid, setresgid and setgroups, then changes the calling
 * thread alone (glibc changes every thread the Go runtime starts), and
 * from any other thread it signals the stale id. The descriptor is musl's
 * own (src/internal/pthread_impl.h, 1.2): the field is checked in
 * the parent, where it must hold the parent's id, before the child writes
 * its own id in it. The HULL_MUSL define comes with the musl build tag
 * (musl_on.go).
 */
#if defined(__x86_64__)
#define MUSL_TID_OFFSET 48 /* after self, dtv, prev, next, sysinfo, canary */
#elif defined(__aarch64__)
#define MUSL_TID_OFFSET 32 /* after self, prev, next, sysinfo (TLS above the pointer) */
#else
#error "hull on musl knows musl's thread descriptor on x86_64 and aarch64 only: build with HULL_CC=gcc"
#endif

static int *musl_tid(void)
{
	return (int *)((char *)pthread_self() + MUSL_TID_OFFSET);
}

static void musl_check_tid(void)
{
	if (*musl_tid() != (int)syscall(SYS_gettid))
		fail("musl's thread descriptor holds no thread id at offset %d: a musl this build does not know "
		     "(build hull with HULL_CC=gcc)",
		     MUSL_TID_OFFSET);
}
#endif

void hull_stage(void)
{
	const char *fd = getenv("_HULL_NSENTER");
	if (!fd)
		return;
	sync_fd = atoi(fd);

	/* Nothing in this process may be read through /proc by the container. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail("prctl PR_SET_DUMPABLE");
	/*
	 * Started through /proc/self/fd/N (the sealed binary), the kernel named
	 * this process "N"; ps should show what it is until the container's
	 * program replaces it (runc shows runc:[2:INIT]). Cosmetic: no failure.
	 */
	prctl(PR_SET_NAME, (unsigned long)"hull:[init]", 0, 0, 0);

	int cgroup_fd = -1;
	char *cgroups = getenv("_HULL_CGROUP");
	if (cgroups && *cgroups)
		cgroup_fd = join_cgroups(cgroups);

	const char *home = getenv("_HULL_MNTNS");
	if (home && *home) {
		int fd = open(home, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNS) < 0)
			fail("enter mount namespace %s", home);
		close(fd);
	}

	char *joins = getenv("_HULL_JOIN");
	if (joins && *joins)
		join_namespaces(joins);
	hull_fault_hit("cstage/namespaces joined");

	const char *unshare_env = getenv("_HULL_UNSHARE");
	unsigned long flags = unshare_env ? strtoul(unshare_env, NULL, 10) : 0;
	if (flags & CLONE_NEWUSER) {
		if (unshare(CLONE_NEWUSER) < 0)
			fail("unshare user namespace");
		become_root();
	}
	if ((flags & ~(unsigned long)CLONE_NEWUSER) && unshare((int)(flags & ~(unsigned long)CLONE_NEWUSER)) < 0)
		fail("unshare namespaces 0x%lx", flags & ~(unsigned long)CLONE_NEWUSER);
	const char *offsets = getenv("_HULL_TIMENS");
	if ((flags & CLONE_NEWTIME) && offsets && *offsets)
		write_file("/proc/self/timens_offsets", offsets);
	hull_fault_hit("cstage/namespaces made");

	const char *finish = getenv("_HULL_FINISH");
#ifdef HULL_MUSL
	if (!finish)
		musl_check_tid();
#endif
	pid_t pid = clone_child(cgroup_fd);
	if (pid < 0)
		fail("clone container process");
	if (pid == 0) {
		if (cgroup_fd >= 0)
			close(cgroup_fd);
		if (finish)
			hull_finish(sync_fd, atoi(finish)); /* the C finisher: no Go runtime */
#ifdef HULL_MUSL
		*musl_tid() = (int)syscall(SYS_gettid);
#endif
		return; /* the container process: the Go runtime starts here */
	}
	hull_fault_hit("cstage/process cloned");

	char buf[32];
	snprintf(buf, sizeof(buf), "%d", pid);
	send_msg('P', buf);
	_exit(0);
}
