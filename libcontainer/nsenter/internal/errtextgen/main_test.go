package main

import (
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestHeaderUpToDate: errtext.h is what this Go's syscall package says
// (go generate ./libcontainer/nsenter rewrites it).
func TestHeaderUpToDate(t *testing.T) {
	b, err := os.ReadFile("../../errtext.h")
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != header() {
		t.Error("libcontainer/nsenter/errtext.h is stale: run go generate ./libcontainer/nsenter")
	}
}

// TestHeaderTexts: the table gives Go's text where glibc and musl differ
// ("too many levels of symbolic links", musl "symbolic link loop").
func TestHeaderTexts(t *testing.T) {
	h := header()
	for _, e := range []syscall.Errno{syscall.ENOENT, syscall.ELOOP, syscall.EBUSY, syscall.ENOMEM, syscall.EOPNOTSUPP} {
		if !strings.Contains(h, `"`+e.Error()+`"`) {
			t.Errorf("no %q for errno %d", e.Error(), int(e))
		}
	}
}
