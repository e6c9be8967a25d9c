package e2e

import (
	"testing"

	"github.com/hull-runtime/hull/libcontainer/seccomp"
	"github.com/hull-runtime/hull/nspawnconv/sysfilter"
)

// nspawnDefaultBounding is nspawn's default capability set.
var nspawnDefaultBounding = []string{"CAP_AUDIT_CONTROL", "CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE",
	"CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_IPC_OWNER", "CAP_KILL", "CAP_LEASE",
	"CAP_LINUX_IMMUTABLE", "CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_RAW",
	"CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
	"CAP_SYS_CHROOT", "CAP_SYS_NICE", "CAP_SYS_PTRACE", "CAP_SYS_RESOURCE", "CAP_SYS_TTY_CONFIG"}

// BenchmarkNspawnBaselineCompile is what the parent pays for a converted
// machine's filter without the cache: libseccomp compiles nspawn's
// baseline (three architectures) to BPF.
func BenchmarkNspawnBaselineCompile(b *testing.B) {
	profile := sysfilter.Resolve(sysfilter.Input{Caps: nspawnDefaultBounding}).Seccomp(false)
	var insns int
	for b.Loop() {
		f, err := seccomp.Compile(profile)
		if err != nil {
			b.Fatal(err)
		}
		insns = f.Instructions()
		f.Release()
	}
	b.ReportMetric(float64(insns), "insns")
}

// BenchmarkNspawnBaselineCached is the same with hull's filter cache warm,
// what every later container with that machine's filter pays.
func BenchmarkNspawnBaselineCached(b *testing.B) {
	profile := sysfilter.Resolve(sysfilter.Input{Caps: nspawnDefaultBounding}).Seccomp(false)
	c, err := seccomp.NewCache(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Compile(profile); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.Compile(profile); err != nil {
			b.Fatal(err)
		}
	}
}
