package e2e

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestLoopback: lo is up in a network namespace the container makes (as
// runc does; engines count on 127.0.0.1) and left as it is in a joined one
// (a namespace `ip netns add` made has lo down).
func TestLoopback(t *testing.T) {
	t.Parallel()
	script := sh("cat /sys/class/net/lo/flags")
	t.Run("new", func(t *testing.T) {
		c := newContainer(t, nil)
		if out := strings.TrimSpace(c.runOutput(script...)); out != "0x9" {
			t.Errorf("lo flags in a new network namespace: %q, want 0x9 (IFF_UP|IFF_LOOPBACK)", out)
		}
	})
	t.Run("joined", func(t *testing.T) {
		ns := testNetns(t)
		c := newContainer(t, func(s *specs.Spec) {
			for i := range s.Linux.Namespaces {
				if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
					s.Linux.Namespaces[i].Path = "/run/netns/" + ns
				}
			}
		})
		if out := strings.TrimSpace(c.runOutput(script...)); out != "0x8" {
			t.Errorf("lo flags in a joined network namespace: %q, want 0x8 (down, as its owner left it)", out)
		}
	})
}
