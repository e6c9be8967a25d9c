package stackgrow

import (
	"testing"
	"unsafe"
)

// deep uses about 9 KiB of stack: more than a new goroutine's 2 KiB, less
// than what Grow leaves.
//
//go:noinline
func deep(n int) byte {
	var pad [512]byte
	pad[n%len(pad)] = byte(n)
	if n == 0 {
		return pad[0]
	}
	return deep(n-1) + pad[n%len(pad)]
}

// moves reports whether the goroutine's stack moved (was copied into a
// larger one) while deep ran, from the address of a local as a plain
// number, which the runtime does not adjust when it copies a stack.
func moves(grow bool) bool {
	done := make(chan bool)
	go func() {
		if grow {
			Grow()
		}
		var local byte
		before := uintptr(unsafe.Pointer(&local))
		deep(16)
		done <- uintptr(unsafe.Pointer(&local)) != before
	}()
	return <-done
}

// TestGrow: after Grow, a goroutine runs 9 KiB deep without its stack
// being copied; without it (the control) the stack is copied.
func TestGrow(t *testing.T) {
	if !moves(false) {
		t.Fatal("control: a new goroutine ran 9 KiB deep and its stack never moved; the test cannot see a copy")
	}
	if moves(true) {
		t.Error("after Grow the stack was still copied")
	}
}
