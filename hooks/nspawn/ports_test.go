package nspawn

import (
	"net"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

func TestParsePort(t *testing.T) {
	good := map[string]Port{
		"tcp:8000:80":     {unix.IPPROTO_TCP, 8000, 80},
		"udp:5353:5353":   {unix.IPPROTO_UDP, 5353, 5353},
		"tcp:65535:65535": {unix.IPPROTO_TCP, 65535, 65535},
	}
	for in, want := range good {
		if got, err := ParsePort(in); err != nil || got != want {
			t.Errorf("%s: %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"8000:80", "sctp:1:2", "tcp:0:80", "tcp:80:0", "tcp:70000:80", "tcp:80", "tcp:a:b"} {
		if _, err := ParsePort(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// inNewNetns runs fn (which must not call t.Fatal) on a locked thread in a fresh network namespace,
// which disappears (with every table in it) when the thread exits.
func inNewNetns(t *testing.T, fn func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with its namespace
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Errorf("unshare: %v", err)
			return
		}
		fn()
	}()
	<-done
}

// TestPortTables: the tables are the container's own (a second create
// fails and leaves the first), the rules follow the address, and
// removal is idempotent.
func TestPortTables(t *testing.T) {
	inNewNetns(t, func() {
		id := "unit-test"
		if err := createPortTables(id); err != nil {
			t.Errorf("create: %v", err)
			return
		}
		if err := createPortTables(id); err == nil || !strings.Contains(err.Error(), "already forwards ports") {
			t.Errorf("second create: %v", err)
		}
		ports := []Port{{unix.IPPROTO_TCP, 8000, 80}, {unix.IPPROTO_UDP, 5353, 53}}
		if err := setDNAT(id, families[0], net.ParseIP("10.1.2.3"), ports); err != nil {
			t.Errorf("set DNAT: %v", err)
			return
		}
		conn, err := nftables.New()
		if err != nil {
			t.Error(err)
			return
		}
		tb := &nftables.Table{Name: PortTable(id), Family: nftables.TableFamilyIPv4}
		for _, chain := range []string{"prerouting", "output"} {
			rules, err := conn.GetRules(tb, &nftables.Chain{Name: chain, Table: tb})
			if err != nil || len(rules) != 2 {
				t.Errorf("%s: %d rules, %v", chain, len(rules), err)
			}
		}
		if err := setDNAT(id, families[0], nil, ports); err != nil {
			t.Error(err)
		}
		if rules, _ := conn.GetRules(tb, &nftables.Chain{Name: "prerouting", Table: tb}); len(rules) != 0 {
			t.Errorf("no address: %d rules left", len(rules))
		}
		for i := 0; i < 2; i++ {
			if err := RemovePorts(id); err != nil {
				t.Errorf("remove %d: %v", i, err)
			}
		}
		if tables, _ := conn.ListTables(); len(tables) != 0 {
			t.Errorf("tables left: %v", tables)
		}
		if err := setDNAT(id, families[0], net.ParseIP("10.1.2.3"), ports); err == nil {
			t.Error("rules added to a removed table")
		}
	})
}
