//go:build hullfaults

package nsenter

// The C stage's fault points (faults.h) are compiled in with the tag.

// #cgo CFLAGS: -DHULL_FAULTS
import "C"
