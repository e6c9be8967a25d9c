package nsenter

/*
#include <stdio.h>
#include <stdlib.h>
#include "nsenter.h"

// hull_dump_process writes the decoded fields as text into out, for the
// Go test that checks the C decoder against wire.Process.
static int hull_dump_process(char *buf, size_t len, char *out, size_t cap, const char **why)
{
	struct hull_process p;
	if (hull_decode_process(buf, len, &p, why) < 0)
		return -1;
	size_t n = 0;
#define OUT(...) do { int k = snprintf(out + n, n < cap ? cap - n : 0, __VA_ARGS__); if (k > 0) n += (size_t)k; } while (0)
	OUT("flags=%u uid=%u gid=%u umask=%o groups=", p.flags, p.uid, p.gid, p.umask);
	for (uint32_t i = 0; i < p.ngroups; i++)
		OUT("%u,", p.groups[i]);
	OUT(" caps=");
	for (int i = 0; i < HULL_NUM_CAPS; i++)
		OUT("%llx,", (unsigned long long)p.caps[i]);
	OUT(" lastcap=%u rlimits=", p.last_cap);
	for (uint32_t i = 0; i < p.nrlimits; i++)
		OUT("%u:%llu:%llu,", p.rlimits[i].resource, (unsigned long long)p.rlimits[i].soft, (unsigned long long)p.rlimits[i].hard);
	OUT(" ioprio=%d personality=%lld preserve=%u fifo=%d console=%d seccomp=%u/%u:", p.ioprio,
	    (long long)p.personality, p.preserve_fds, p.fifo_fd, p.console_fd, p.seccomp_flags, p.seccomp_len);
	for (uint32_t i = 0; i < p.seccomp_len * 8; i++)
		OUT("%02x", ((unsigned char *)p.seccomp)[i]);
	OUT(" program=%s cwd=%s keyring=%s args=", p.program, p.cwd, p.keyring);
	for (uint32_t i = 0; i < p.argc; i++)
		OUT("[%s]", p.argv[i]);
	OUT(" env=");
	for (uint32_t i = 0; i < p.envc; i++)
		OUT("[%s]", p.envp[i]);
#undef OUT
	return n < cap ? 0 : (*why = "dump too long", -1);
}
*/
import "C"

import (
	"errors"
	"unsafe"
)

// decodeInC runs the finisher's decoder (finish.c) on b and returns the
// fields as text, in the layout of the test's Go-side dump.
func decodeInC(b []byte) (string, error) {
	buf := C.CBytes(b)
	defer C.free(buf)
	out := make([]byte, 1<<20)
	var why *C.char
	if C.hull_dump_process((*C.char)(buf), C.size_t(len(b)), (*C.char)(unsafe.Pointer(&out[0])), C.size_t(len(out)), &why) != 0 {
		return "", errors.New(C.GoString(why))
	}
	return C.GoString((*C.char)(unsafe.Pointer(&out[0]))), nil
}
