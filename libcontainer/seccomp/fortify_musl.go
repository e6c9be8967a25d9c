//go:build musl

package seccomp

/*
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

// Debian's libseccomp.a is built against glibc with _FORTIFY_SOURCE, so its
// PFC exporter (seccomp_export_pfc, which hull never calls) refers to
// glibc's checked fprintf; musl has no _chk functions. Linked against musl,
// hull gives that reference an fprintf without the check.
int __fprintf_chk(FILE *stream, int flag, const char *format, ...)
{
	(void)flag;
	va_list ap;
	va_start(ap, format);
	int n = vfprintf(stream, format, ap);
	va_end(ap);
	return n;
}

// For the test: what __fprintf_chk writes for "%s=%d" with ("n", v).
static char *hull_fprintf_chk_probe(int v)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL)
		return NULL;
	__fprintf_chk(f, 1, "%s=%d", "n", v);
	fclose(f);
	return buf;
}
*/
import "C"

import "unsafe"

func fprintfChkProbe(v int) string {
	p := C.hull_fprintf_chk_probe(C.int(v))
	if p == nil {
		return "(open_memstream failed)"
	}
	defer C.free(unsafe.Pointer(p))
	return C.GoString(p)
}
