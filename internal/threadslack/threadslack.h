#ifndef HULL_THREADSLACK_H
#define HULL_THREADSLACK_H

/* The timer slack of the threads pthread_create starts: 1 ms. */
#define HULL_THREAD_SLACK_NS 1000000UL
/* The first of them, the Go runtime's sysmon: 10 ms, the longest sleep
 * sysmon takes by itself (threadslack.c says why). */
#define HULL_SYSMON_SLACK_NS 10000000UL

/* hull_sysmon_tid is the thread id of the first thread pthread_create
 * started (0 before it runs), for the tests. */
int hull_sysmon_tid(void);

/* hull_caller_slack is the timer slack the program started with (its main
 * thread's, inherited from the caller), in ns. */
unsigned long hull_caller_slack(void);
/* hull_thread_slack is the calling thread's timer slack, in ns. */
unsigned long hull_thread_slack(void);
/* hull_thread_slack_set sets the calling thread's timer slack to ns (no
 * call when it has it already; nothing for 0). Returns 0, or -1 with errno
 * set. */
int hull_thread_slack_set(unsigned long ns);

#endif
