/* Shared by nsenter.c (the C stage) and finish.c (the C finisher). */
#ifndef HULL_NSENTER_H
#define HULL_NSENTER_H

#include <stddef.h>
#include <stdint.h>

/* hull_write_all writes len bytes to fd, retrying short writes and EINTR. */
int hull_write_all(int fd, const void *buf, size_t len);
/* hull_send_msg writes one frame of libcontainer/wire: type, u32 length, payload. */
int hull_send_msg(int fd, char type, const void *payload, uint32_t len);
/* hull_errtext is Go's text of errno err; buf holds one Go does not name. */
const char *hull_errtext(int err, char *buf, size_t len);

/* The compact process message (wire.Process), decoded in place. */
struct hull_rlimit {
	uint32_t resource;
	uint64_t soft, hard;
};

enum { HULL_CAP_BOUNDING, HULL_CAP_EFFECTIVE, HULL_CAP_INHERITABLE, HULL_CAP_PERMITTED, HULL_CAP_AMBIENT, HULL_NUM_CAPS };

#define HULL_FLAG_NO_NEW_PRIVS 1u
#define HULL_FLAG_SECCOMP_EARLY 2u

struct hull_process {
	uint32_t flags, uid, gid, umask;
	uint32_t ngroups;
	uint32_t *groups;
	uint64_t caps[HULL_NUM_CAPS];
	uint32_t last_cap;
	uint32_t nrlimits;
	struct hull_rlimit *rlimits;
	int32_t ioprio;
	int64_t personality;
	uint32_t preserve_fds;
	int32_t fifo_fd, console_fd;
	uint32_t seccomp_flags, seccomp_len; /* len in instructions */
	void *seccomp;                       /* struct sock_filter[seccomp_len] */
	const char *program, *cwd, *keyring;
	uint32_t argc, envc;
	char **argv, **envp; /* NULL-terminated */
};

/*
 * hull_decode_process decodes buf (which must outlive p: strings point into
 * it). Returns 0, or -1 with *why set to a static description.
 */
int hull_decode_process(char *buf, size_t len, struct hull_process *p, const char **why);

/*
 * The version of what hull and hull-stage say to each other: the _HULL_*
 * environment, the sync messages and the process message. hull sends it as
 * _HULL_STAGE_ABI to a finisher's C stage, and hull-stage refuses another
 * number, so a hull-stage left from another build never runs half a
 * protocol. Raise it with any change to one of them.
 */
#define HULL_STAGE_ABI 1

/* What the C finisher finishes (_HULL_FINISH): an exec'd process, or a
 * container's init whose rootfs hull create builds (with a new cgroup
 * namespace to make first, or not). */
enum { HULL_FINISH_EXEC = 1, HULL_FINISH_INIT = 2, HULL_FINISH_INIT_CGROUPNS = 3 };

/*
 * hull_stage is the C stage (nsenter.c): it returns at once without
 * _HULL_NSENTER; otherwise only in the cloned container process, and only
 * when that process has no _HULL_FINISH (then the Go init runs in it).
 */
void hull_stage(void);

/* hull_finish reads the process message from sync_fd, applies it and execs; it never returns. */
void hull_finish(int sync_fd, int mode) __attribute__((noreturn));

#endif
