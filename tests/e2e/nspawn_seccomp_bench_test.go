package e2e

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

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
	benchCompile(b, sysfilter.Resolve(sysfilter.Input{Caps: nspawnDefaultBounding}).Seccomp(false))
}

// BenchmarkEngineProfileCompile is the same for the engine profile
// libcontainer/seccomp measures (podman's default), for scale.
func BenchmarkEngineProfileCompile(b *testing.B) {
	data, err := os.ReadFile("../../libcontainer/seccomp/testdata/default.json")
	if err != nil {
		b.Fatal(err)
	}
	var profile specs.LinuxSeccomp
	if err := json.Unmarshal(data, &profile); err != nil {
		b.Fatal(err)
	}
	benchCompile(b, &profile)
}

// benchCompile reports wall time, CPU time (steadier on a busy machine)
// and the program's size.
func benchCompile(b *testing.B, profile *specs.LinuxSeccomp) {
	var insns int
	cpu0 := cpuTime()
	n := 0
	for b.Loop() {
		f, err := seccomp.Compile(profile)
		if err != nil {
			b.Fatal(err)
		}
		insns = f.Instructions()
		f.Release()
		n++
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(n), "cpu-ms/op")
	b.ReportMetric(float64(insns), "insns")
}

func cpuTime() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
	cpu0, n := cpuTime(), 0
	for b.Loop() {
		if _, err := c.Compile(profile); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(n), "cpu-ms/op")
}
