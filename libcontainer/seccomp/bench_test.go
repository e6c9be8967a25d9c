package seccomp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
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

// BenchmarkCacheHit is what a container start with a cached engine profile
// pays for its program: the key (the profile's JSON, SHA-256) and the
// entry's read. "marked-long-ago" is a hit on an entry last used over
// refreshAfter ago, which marks it used (the first start each minute).
// Run it with TMPDIR on a tmpfs, as /run is.
func BenchmarkCacheHit(b *testing.B) {
	profile := loadDefaultProfile(b)
	c, err := NewCache(filepath.Join(b.TempDir(), "cache"))
	if err != nil {
		b.Fatal(err)
	}
	data, err := c.Compile(profile)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("recent", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.Compile(profile); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data)), "entry-bytes")
	})
	b.Run("marked-long-ago", func(b *testing.B) {
		names, err := filepath.Glob(filepath.Join(c.dir, "[0-9a-f]*"))
		if err != nil || len(names) != 1 {
			b.Fatalf("cache entries %q: %v", names, err)
		}
		old := time.Now().Add(-time.Hour)
		for b.Loop() {
			b.StopTimer()
			if err := os.Chtimes(names[0], old, old); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if _, err := c.Compile(profile); err != nil {
				b.Fatal(err)
			}
		}
	})
}
