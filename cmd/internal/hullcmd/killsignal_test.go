package hullcmd

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/nspawnconv/syscontainer"
)

func TestKillSignal(t *testing.T) {
	machine := map[string]string{syscontainer.AnnotationKillSignal: "SIGRTMIN+3"}
	tests := []struct {
		name        string
		arg         string
		annotations map[string]string
		want        unix.Signal
		wantErr     bool
	}{
		{"default", "", nil, unix.SIGTERM, false},
		{"a machine's own", "", machine, unix.Signal(34 + 3), false}, // SIGRTMIN is 34 on Linux
		{"given wins", "KILL", machine, unix.SIGKILL, false},
		{"number", "9", nil, unix.SIGKILL, false},
		{"unknown", "SIGNOPE", nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := killSignal(tt.arg, tt.annotations)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("killSignal(%q, %v) = %v, %v; want %v (error %v)", tt.arg, tt.annotations, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
