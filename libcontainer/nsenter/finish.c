/*
 * The C finisher: the last steps of a container process, without a Go
 * runtime. After the C stage (nsenter.c) cloned the process into the
 * container's namespaces and cgroup, the process stays here: it reads the
 * compact process message (libcontainer/wire.Process, MsgProcess) from the
 * sync socket, applies what must be applied last, reports ready and execs.
 * The parent resolved everything that needs a parser or a policy (program
 * in PATH, HOME, capability masks, compiled seccomp); the order and the
 * rules of each step are the Go init's (libcontainer/init.go, init_exec.go),
 * and each error names its step as the Go init's does.
 *
 * What it does not do (console creation, AppArmor, scheduler, CPU affinity,
 * memory policy, seccomp listeners, hooks, chroot) keeps the Go init: the
 * parent decides before it starts the process (libcontainer/finisher.go).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "faults.h"
#include "nsenter.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#define KEYCTL_JOIN_SESSION_KEYRING 1
#define IOPRIO_WHO_PROCESS 1
#define PROCESS_MAGIC 0x31505868u /* wire.ProcessMagic */
#define MAX_STRINGS (1u << 16)
#define MAX_GROUPS (1u << 16)
#define MAX_RLIMITS 64u
#define BPF_MAX_INSNS 4096u

/* ---- decoding ---- */

struct cursor {
	char *p;
	size_t left;
	int bad;
};

static void *take(struct cursor *c, size_t n)
{
	if (c->bad || n > c->left) {
		c->bad = 1;
		return NULL;
	}
	void *out = c->p;
	c->p += n;
	c->left -= n;
	return out;
}

static uint32_t get_u32(struct cursor *c)
{
	uint32_t v = 0;
	void *p = take(c, 4);
	if (p)
		memcpy(&v, p, 4);
	return v;
}

static uint64_t get_u64(struct cursor *c)
{
	uint64_t v = 0;
	void *p = take(c, 8);
	if (p)
		memcpy(&v, p, 8);
	return v;
}

static uint32_t get_count(struct cursor *c, uint32_t limit)
{
	uint32_t n = get_u32(c);
	if (n > limit)
		c->bad = 1;
	return c->bad ? 0 : n;
}

/* get_str returns a pointer into the buffer: length, bytes, NUL. */
static const char *get_str(struct cursor *c)
{
	uint32_t n = get_u32(c);
	if (c->bad || (size_t)n >= c->left)
		return c->bad = 1, NULL;
	char *s = take(c, (size_t)n + 1);
	if (!s || s[n] != '\0' || strlen(s) != n)
		return c->bad = 1, NULL;
	return s;
}

static char **get_strs(struct cursor *c, uint32_t *count)
{
	uint32_t n = get_count(c, MAX_STRINGS);
	char **out = calloc((size_t)n + 1, sizeof(char *));
	if (!out)
		return c->bad = 1, NULL;
	for (uint32_t i = 0; i < n && !c->bad; i++)
		out[i] = (char *)get_str(c);
	*count = n;
	return out;
}

int hull_decode_process(char *buf, size_t len, struct hull_process *p, const char **why)
{
	struct cursor c = {buf, len, 0};
	memset(p, 0, sizeof(*p));
	if (get_u32(&c) != PROCESS_MAGIC)
		return *why = "not a process message (bad magic)", -1;
	p->flags = get_u32(&c);
	p->uid = get_u32(&c);
	p->gid = get_u32(&c);
	p->umask = get_u32(&c);
	p->ngroups = get_count(&c, MAX_GROUPS);
	p->groups = calloc(p->ngroups ? p->ngroups : 1, sizeof(uint32_t));
	for (uint32_t i = 0; i < p->ngroups && p->groups; i++)
		p->groups[i] = get_u32(&c);
	for (int i = 0; i < HULL_NUM_CAPS; i++)
		p->caps[i] = get_u64(&c);
	p->last_cap = get_u32(&c);
	p->nrlimits = get_count(&c, MAX_RLIMITS);
	p->rlimits = calloc(p->nrlimits ? p->nrlimits : 1, sizeof(struct hull_rlimit));
	for (uint32_t i = 0; i < p->nrlimits && p->rlimits; i++) {
		p->rlimits[i].resource = get_u32(&c);
		p->rlimits[i].soft = get_u64(&c);
		p->rlimits[i].hard = get_u64(&c);
	}
	p->ioprio = (int32_t)get_u32(&c);
	p->personality = (int64_t)get_u64(&c);
	p->preserve_fds = get_u32(&c);
	p->fifo_fd = (int32_t)get_u32(&c);
	p->console_fd = (int32_t)get_u32(&c);
	p->seccomp_flags = get_u32(&c);
	p->seccomp_len = get_count(&c, BPF_MAX_INSNS);
	if (p->seccomp_len) {
		/* Copied: the program must be aligned for the kernel's reads. */
		void *raw = take(&c, (size_t)p->seccomp_len * sizeof(struct sock_filter));
		p->seccomp = raw ? malloc((size_t)p->seccomp_len * sizeof(struct sock_filter)) : NULL;
		if (p->seccomp)
			memcpy(p->seccomp, raw, (size_t)p->seccomp_len * sizeof(struct sock_filter));
	}
	p->program = get_str(&c);
	p->cwd = get_str(&c);
	p->keyring = get_str(&c);
	p->argv = get_strs(&c, &p->argc);
	p->envp = get_strs(&c, &p->envc);
	if (!p->groups || !p->rlimits || (p->seccomp_len && !p->seccomp))
		c.bad = 1;
	if (c.bad)
		return *why = "truncated or malformed", -1;
	if (c.left != 0)
		return *why = "bytes after the message", -1;
	if (p->argc == 0 || p->program[0] == '\0')
		return *why = "no program to execute", -1;
	return 0;
}

/* ---- errors ---- */

static int sync_fd = -1;
static int reported;              /* the parent has 'R': errors go to stderr */
static const char *role = "execinit"; /* the Go init's fault point prefix */

/* at_step is a fault point named as the Go init's (faults.HitStep). */
static void at_step(const char *step)
{
#ifdef HULL_FAULTS
	char name[256];
	snprintf(name, sizeof(name), "%s/%s", role, step);
	hull_fault_hit(name);
#else
	(void)step;
#endif
}

/*
 * fail reports "step: detail: errno text" as the Go init would (Go's errno
 * texts: hull_errtext), then exits 127. With err 0 no errno text is
 * appended.
 */
__attribute__((noreturn, format(printf, 3, 4))) static void fail(const char *step, int err, const char *fmt, ...)
{
	char msg[2048];
	int n = snprintf(msg, sizeof(msg), "%s: ", step);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(msg))
		n += vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	if (err && n > 0 && (size_t)n < sizeof(msg)) {
		char text[32];
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", hull_errtext(err, text, sizeof(text)));
	}
	if (!reported)
		hull_send_msg(sync_fd, 'E', msg, (uint32_t)strlen(msg));
	else
		dprintf(2, "hull init: %s\n", msg);
	_exit(127);
}

/* ---- steps ---- */

static char *read_message(size_t *out_len)
{
	char head[5];
	size_t got = 0;
	while (got < sizeof(head)) {
		ssize_t n = read(sync_fd, head + got, sizeof(head) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail("read config", n < 0 ? errno : 0, "peer exited before finishing");
		got += (size_t)n;
	}
	uint32_t len;
	memcpy(&len, head + 1, 4);
	if (head[0] != 'X' || len > (64u << 20))
		fail("read config", 0, "unexpected message %c of %u bytes", head[0], len);
	char *buf = malloc(len ? len : 1);
	if (!buf)
		fail("read config", ENOMEM, "process message");
	for (got = 0; got < len;) {
		ssize_t n = read(sync_fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail("read config", n < 0 ? errno : 0, "peer exited before finishing");
		got += (size_t)n;
	}
	*out_len = len;
	return buf;
}

static void setup_console(const struct hull_process *p)
{
	if (setsid() < 0)
		fail("set up console", errno, "setsid");
	if (p->console_fd < 0)
		return;
	if (ioctl(p->console_fd, TIOCSCTTY, 0) < 0)
		fail("set up console", errno, "make the pty the controlling terminal");
	for (int fd = 0; fd < 3; fd++)
		if (dup2(p->console_fd, fd) < 0)
			fail("set up console", errno, "dup2 the pty to fd %d", fd);
	if (p->console_fd > 2)
		close(p->console_fd);
}

static const char *rlimit_name(uint32_t r)
{
	static const char *names[] = {"RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK",
				      "RLIMIT_CORE", "RLIMIT_RSS", "RLIMIT_NPROC", "RLIMIT_NOFILE",
				      "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS", "RLIMIT_SIGPENDING",
				      "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME"};
	return r < sizeof(names) / sizeof(names[0]) ? names[r] : "RLIMIT_?";
}

/*
 * reset_signals gives the program the signal state of a fresh process.
 * execve(2) keeps ignored signals ignored and the mask as it is, and this
 * process has both from whatever started hull: under nohup, or a daemon
 * that ignores SIGHUP, SIGINT or SIGPIPE, the container's program could
 * neither trap those signals (a shell may not trap what was ignored on
 * entry) nor die of them, and `kill` with them would not stop it. runc and
 * crun reset the dispositions too; crun also clears the mask. Nothing here
 * has a handler, so every signal goes to SIG_DFL. The raw system calls:
 * the C libraries refuse the signals they keep for themselves (glibc 32
 * and 33, musl 32 to 34), which a parent may still have ignored.
 */
struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

static void reset_signals(const char *step)
{
	struct kernel_sigaction dfl = {.handler = SIG_DFL};
	for (int sig = 1; sig <= 64; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(dfl.mask)) < 0)
			fail(step, errno, "reset the disposition of signal %d", sig);
	}
	uint64_t none = 0;
	if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(none)) < 0)
		fail(step, errno, "unblock signals");
}

/*
 * A created container's init is its pid namespace's init, which the kernel
 * spares every signal it has no handler for: `kill` of a container that was
 * created and never started (an engine stopping it, SIGTERM first) would do
 * nothing until SIGKILL. runc's init, a Go program, exits on SIGHUP, SIGINT,
 * SIGTERM, SIGQUIT and SIGABRT; so does this one, with a shell's status for
 * the signal. execve gives the program default dispositions again.
 */
static void exit_on_signal(int sig)
{
	_exit(128 + sig);
}

static void exit_on_stop_signals(void)
{
	static const int sigs[] = {SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGABRT};
	struct sigaction sa = {.sa_handler = exit_on_signal};
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			fail("set process attributes", errno, "handle signal %d", sigs[i]);
}

static void set_attributes(const struct hull_process *p)
{
	const char *step = "set process attributes";
	reset_signals(step);
	/* Before any seccomp filter, which may deny rt_sigaction. */
	if (p->fifo_fd >= 0)
		exit_on_stop_signals();
	for (uint32_t i = 0; i < p->nrlimits; i++) {
		const struct hull_rlimit *r = &p->rlimits[i];
		struct rlimit lim = {r->soft, r->hard};
		if (setrlimit((int)r->resource, &lim) < 0)
			fail(step, errno, "set rlimit %s soft=%llu hard=%llu", rlimit_name(r->resource),
			     (unsigned long long)r->soft, (unsigned long long)r->hard);
	}
	if (p->ioprio >= 0 && syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, p->ioprio) < 0)
		fail(step, errno, "ioprio_set class=%d priority=%d", p->ioprio >> 13, p->ioprio & 0x1fff);
	if (p->keyring[0] && syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, p->keyring, 0, 0, 0) < 0 &&
	    errno != ENOSYS && errno != EDQUOT)
		fail(step, errno, "join session keyring %s", p->keyring);
}

/*
 * verify_cwd: a cwd reached through a leaked host fd shows as
 * "(unreachable)..." in getcwd(2) (runc's CVE-2024-21626); the raw
 * syscall, since glibc's wrapper hides that form behind ENOENT.
 */
static void verify_cwd(const char *step, const char *cwd)
{
	char wd[4096], text[32];
	long n = syscall(SYS_getcwd, wd, sizeof(wd));
	if (n < 0 || wd[0] != '/')
		fail(step, 0, "process.cwd \"%s\": resolves outside the container (\"%s\", %s)", cwd,
		     n < 0 ? "" : wd, n < 0 ? hull_errtext(errno, text, sizeof(text)) : "<nil>");
}

/* check_cwd returns 1 when the cwd must be entered as the user (root may not). */
static int check_cwd(const struct hull_process *p)
{
	const char *step = "check working directory";
	if (chdir(p->cwd) < 0) {
		if (errno == EACCES || errno == EPERM)
			return 1;
		fail(step, errno, "process.cwd \"%s\"", p->cwd);
	}
	verify_cwd(step, p->cwd);
	return 0;
}

static void load_seccomp(const struct hull_process *p, const char *step)
{
	struct sock_fprog prog = {(unsigned short)p->seccomp_len, p->seccomp};
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->seccomp_flags, &prog);
	if (r < 0) {
		int err = errno;
		fail(step, err, "seccomp(SECCOMP_SET_MODE_FILTER, flags %#x, %u instructions)%s", p->seccomp_flags,
		     p->seccomp_len, err == EACCES ? " (neither no_new_privs set nor CAP_SYS_ADMIN held)" : "");
	}
	if (r > 0)
		fail(step, 0, "seccomp: TSYNC failed: thread %ld has an incompatible filter", r);
}

/* is_anonymous_pipe: a pipe(2), not a FIFO with a name on a filesystem. */
static int is_anonymous_pipe(int fd)
{
	struct statfs fs;
	return fstatfs(fd, &fs) == 0 && fs.f_type == PIPEFS_MAGIC;
}

/*
 * chown_stdio hands stdio to the user as runc's fixStdioPermissions, but only
 * what is the container's to own (process.ChownStdio says why): an anonymous
 * pipe or a socket, or the controlling terminal (TIOCGSID answers for that one
 * only). A caller's terminal or file handed on as it is stays its owner's.
 */
static void chown_stdio(uid_t uid)
{
	for (int fd = 0; fd < 3; fd++) {
		struct stat st;
		pid_t sid;
		if (fstat(fd, &st) < 0) {
			if (errno == EBADF)
				continue;
			fail("drop privileges", errno, "stat stdio fd %d", fd);
		}
		if (!((S_ISFIFO(st.st_mode) && is_anonymous_pipe(fd)) || S_ISSOCK(st.st_mode) ||
		      (S_ISCHR(st.st_mode) && ioctl(fd, TIOCGSID, &sid) == 0)) ||
		    st.st_uid == uid)
			continue;
		if (fchown(fd, uid, st.st_gid) < 0 && errno != EPERM && errno != EINVAL)
			fail("drop privileges", errno, "chown stdio fd %d to uid %u", fd, (unsigned)uid);
	}
}

/*
 * reopen_dev_null: stdio that is a /dev/null other than the container's own
 * (the caller's redirect, conmon's stdin) becomes the container's, as runc's
 * reOpenDevNull does (process.ReopenDevNull is the Go init's): it reads and
 * writes the same, and nothing of the container then holds a file of a host
 * mount, which criu could not checkpoint. A container without a /dev/null
 * that is the null device keeps what it was given.
 */
static void reopen_dev_null(void)
{
	int null = -1;
	struct stat st, own;
	for (int fd = 0; fd < 3; fd++) {
		if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
			continue;
		if (null < 0) {
			null = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOFOLLOW);
			if (null < 0)
				return;
			if (fstat(null, &own) < 0 || !S_ISCHR(own.st_mode) || own.st_rdev != makedev(1, 3))
				break;
		}
		if (st.st_dev == own.st_dev && st.st_ino == own.st_ino)
			continue;
		if (dup3(null, fd, 0) < 0)
			fail("drop privileges", errno, "reopen stdio fd %d on the container's /dev/null", fd);
	}
	if (null >= 0)
		close(null);
}

static int setgroups_denied(void)
{
	char buf[16] = {0};
	int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n >= 4 && strncmp(buf, "deny", 4) == 0;
}

static void set_user(const struct hull_process *p)
{
	const char *step = "drop privileges";
	gid_t groups[p->ngroups ? p->ngroups : 1];
	for (uint32_t i = 0; i < p->ngroups; i++)
		groups[i] = p->groups[i];
	if (setgroups(p->ngroups, groups) < 0) {
		/* No additional gids and a user namespace that denies setgroups: fine. */
		if (errno != EPERM || p->ngroups > 0 || !setgroups_denied())
			fail(step, errno, "setgroups (process.user.additionalGids)");
	}
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		fail(step, errno, "setresgid process.user.gid %u", p->gid);
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		fail(step, errno, "setresuid process.user.uid %u", p->uid);
}

/* apply_caps: capabilities.ApplyWithUser's order; see there for why. */
static void apply_caps(const struct hull_process *p)
{
	const char *step = "drop privileges";
	for (uint32_t c = 0; c <= p->last_cap && c < 64; c++) {
		if (p->caps[HULL_CAP_BOUNDING] & (1ull << c))
			continue;
		int in = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
		if (in < 0)
			fail(step, errno, "read capability %u from bounding set", c);
		if (in && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			fail(step, errno, "drop capability %u from bounding set", c);
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		fail(step, errno, "set keep-caps");
	set_user(p);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		fail(step, errno, "clear keep-caps");
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(p->caps[HULL_CAP_EFFECTIVE] >> (32 * i));
		data[i].permitted = (uint32_t)(p->caps[HULL_CAP_PERMITTED] >> (32 * i));
		data[i].inheritable = (uint32_t)(p->caps[HULL_CAP_INHERITABLE] >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		fail(step, errno, "capset effective=%#llx permitted=%#llx inheritable=%#llx",
		     (unsigned long long)p->caps[HULL_CAP_EFFECTIVE], (unsigned long long)p->caps[HULL_CAP_PERMITTED],
		     (unsigned long long)p->caps[HULL_CAP_INHERITABLE]);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) {
		if (!(errno == EINVAL && p->caps[HULL_CAP_AMBIENT] == 0))
			fail(step, errno, "clear ambient capabilities");
	}
	for (uint32_t c = 0; c <= p->last_cap && c < 64; c++)
		if ((p->caps[HULL_CAP_AMBIENT] & (1ull << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			fail(step, errno, "raise ambient capability %u", c);
}

static void drop_privileges(const struct hull_process *p, int cwd_as_user)
{
	const char *step = "drop privileges";
	if ((p->flags & HULL_FLAG_NO_NEW_PRIVS) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail(step, errno, "set no_new_privs");
	umask((mode_t)p->umask);
	reopen_dev_null();
	chown_stdio(p->uid);
	apply_caps(p);
	if (!cwd_as_user)
		return;
	if (chdir(p->cwd) < 0)
		fail(step, errno, "process.cwd \"%s\"", p->cwd);
	verify_cwd(step, p->cwd);
}

/* find_program: the parent found the path; the user must be allowed to run it. */
static void find_program(const struct hull_process *p)
{
	struct stat st;
	if (stat(p->program, &st) < 0)
		fail("find program", errno, "process.args[0] \"%s\"", p->argv[0]);
	if (!S_ISREG(st.st_mode))
		fail("find program", 0, "process.args[0] \"%s\": not a regular file", p->argv[0]);
	if (access(p->program, X_OK) < 0)
		fail("find program", errno, "process.args[0] \"%s\": not executable", p->argv[0]);
}

static void report_ready(void)
{
	if (hull_send_msg(sync_fd, 'R', "", 0) < 0)
		fail("report started", errno, "write to hull");
	reported = 1;
	close(sync_fd);
}

/*
 * wait_for_start blocks until `hull start` writes its byte. The fifo stays
 * open, close-on-exec: `start` returns when it loses its last reader, and
 * that must be the execve's point of no return (poststart hooks and engines
 * count on the program being executed), not this function.
 */
static void wait_for_start(int fifo)
{
	char c;
	ssize_t n;
	do
		n = read(fifo, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		fail("wait for start", errno, "read exec.fifo");
	if (fcntl(fifo, F_SETFD, FD_CLOEXEC) < 0)
		fail("wait for start", errno, "make exec.fifo close-on-exec");
}

/* recv_exact reads len bytes; the fd riding on them, if any, goes to *fd_out. */
static void recv_exact(const char *step, char *buf, size_t len, int *fd_out)
{
	size_t got = 0;
	while (got < len) {
		union {
			char raw[CMSG_SPACE(sizeof(int) * 4)];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = {buf + got, len - got};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.raw,
				     .msg_controllen = sizeof(ctl.raw)};
		ssize_t n = recvmsg(sync_fd, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail(step, n < 0 ? errno : 0, "peer exited before finishing");
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < nfd; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (*fd_out < 0)
					*fd_out = fd;
				else
					close(fd);
			}
		}
		got += (size_t)n;
	}
}

/*
 * await_rootfs: the init's steps before its process message, as the Go
 * init's (containerSteps with RootfsBuilt): its cgroup namespace, rooted
 * where it was born, then hull create builds the rootfs from a thread in
 * this process's namespaces, and its pivot_root makes our root the
 * container's. Returns the pty slave that rides on 'b', or -1.
 */
static int await_rootfs(int new_cgroupns)
{
	/* As the Go init waits for its config: until hull placed it (its
	 * cgroup, which the cgroup namespace is rooted at; its net devices)
	 * and read the C stage's 'P', which this message would overtake. */
	char head[5];
	int slave = -1;
	at_step("wait for placement");
	recv_exact("wait for placement", head, sizeof(head), &slave);
	if (head[0] != 'G' || memcmp(head + 1, "\0\0\0\0", 4) != 0 || slave >= 0)
		fail("wait for placement", 0, "unexpected message %c", head[0]);
	at_step("enter cgroup namespace");
	if (new_cgroupns && unshare(CLONE_NEWCGROUP) < 0)
		fail("enter cgroup namespace", errno, "unshare cgroup namespace");
	const char *step = "rootfs built by hull";
	at_step(step);
	if (hull_send_msg(sync_fd, 'B', "", 0) < 0)
		fail(step, errno, "write to hull");
	recv_exact(step, head, sizeof(head), &slave);
	uint32_t len;
	memcpy(&len, head + 1, 4);
	if (head[0] == 'E' && len < 4096) {
		char text[4096];
		recv_exact(step, text, len, &slave);
		text[len] = '\0';
		fail(step, 0, "%s", text);
	}
	if (head[0] != 'b' || len != 0)
		fail(step, 0, "unexpected message %c of %u bytes", head[0], len);
	return slave;
}

void hull_finish(int fd, int mode)
{
	sync_fd = fd;
	int slave = -1;
	if (mode != HULL_FINISH_EXEC) {
		role = "init";
		slave = await_rootfs(mode == HULL_FINISH_INIT_CGROUPNS);
		/* As runc's init after pivot_root: the working directory this
		 * process came with lies in the host's tree, now detached, and
		 * /proc/1/cwd would lead back to it until check_cwd. */
		if (chdir("/") < 0)
			fail("rootfs built by hull", errno, "chdir /");
	}
	size_t len;
	char *raw = read_message(&len);
	struct hull_process p;
	const char *why;
	if (hull_decode_process(raw, len, &p, &why) < 0)
		fail("read config", 0, "process message: %s", why);
	/* The init's pty slave came with 'b' (the message has no fd number for it). */
	if (slave >= 0)
		p.console_fd = slave;
	at_step("close inherited fds");
	if (syscall(SYS_close_range, 3 + p.preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		fail("close inherited fds", errno, "close_range");
	at_step(mode == HULL_FINISH_EXEC ? "set up console" : "take console");
	setup_console(&p);
	at_step("set process attributes");
	set_attributes(&p);
	at_step("check working directory");
	int cwd_as_user = check_cwd(&p);
	at_step("load seccomp filter (before dropping privileges)");
	if (p.seccomp_len && (p.flags & HULL_FLAG_SECCOMP_EARLY))
		load_seccomp(&p, "load seccomp filter (before dropping privileges)");
	at_step("drop privileges");
	drop_privileges(&p, cwd_as_user);
	at_step("find program");
	find_program(&p);
	at_step(mode == HULL_FINISH_EXEC ? "report started" : "report created");
	report_ready();
	if (p.fifo_fd >= 0) {
		at_step("wait for start");
		wait_for_start(p.fifo_fd);
	}
	at_step("load seccomp filter");
	if (p.seccomp_len && !(p.flags & HULL_FLAG_SECCOMP_EARLY))
		load_seccomp(&p, "load seccomp filter");
	at_step("exec");
	if (p.personality >= 0 && syscall(SYS_personality, (unsigned long)p.personality) < 0)
		fail("exec", errno, "personality %#llx", (unsigned long long)p.personality);
	execve(p.program, p.argv, p.envp);
	fail("exec", errno, "exec %s", p.program);
}
