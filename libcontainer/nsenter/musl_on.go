//go:build musl

package nsenter

// Linked against musl (the musl tag, which such a link needs anyway for
// libseccomp), the Go init writes its own thread id into musl's thread
// descriptor (nsenter.c, HULL_MUSL): the define follows the tag, so no
// build that links musl can leave it out.

// #cgo CFLAGS: -DHULL_MUSL
import "C"
