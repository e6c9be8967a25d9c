package seccomp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkCompileDefault is the parent-side cost: libseccomp builds the
// ~380-rule, 3-architecture profile and exports it as BPF.
func BenchmarkCompileDefault(b *testing.B) {
	c := loadDefaultProfile(b)
	for b.Loop() {
		f, err := Compile(c)
		if err != nil {
			b.Fatal(err)
		}
		f.Release()
	}
}

// BenchmarkLoadDefault is the init-side cost, measured inside fresh
// children because filters stack and cannot be removed. ns/op includes
// spawning the child; the load-ns metric is the part start-up pays.
func BenchmarkLoadDefault(b *testing.B) {
	b.Run("bpf", func(b *testing.B) {
		f, err := Compile(loadDefaultProfile(b))
		if err != nil {
			b.Fatal(err)
		}
		raw, err := f.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		path := filepath.Join(b.TempDir(), "filter.bin")
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			b.Fatal(err)
		}
		benchChildren(b, "bench-load-bpf", path)
	})
	b.Run("libseccomp", func(b *testing.B) {
		path, err := filepath.Abs("testdata/default.json")
		if err != nil {
			b.Fatal(err)
		}
		benchChildren(b, "bench-load-libseccomp", path)
	})
}

func benchChildren(b *testing.B, name, profile string) {
	sums := map[string]int64{}
	n := 0
	for b.Loop() {
		out, err := childCommand(name, profileEnv+"="+profile).Output()
		if err != nil {
			b.Fatalf("child %s: %v", name, err)
		}
		var res childResult
		if err := json.Unmarshal(out, &res); err != nil {
			b.Fatalf("child %s output %q: %v", name, out, err)
		}
		for k, v := range res {
			sums[k] += v
		}
		n++
	}
	for k, v := range sums {
		b.ReportMetric(float64(v)/float64(n), k[:len(k)-3]+"-ns/op")
	}
}
