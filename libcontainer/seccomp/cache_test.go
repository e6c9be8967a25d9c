package seccomp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestCache(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	c, err := NewCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	profile := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno}},
	}
	start := time.Now()
	first, err := c.Compile(profile)
	if err != nil {
		t.Fatal(err)
	}
	compiled := time.Since(start)
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("cache holds %d entries after one compile", len(entries))
	}
	start = time.Now()
	second, err := c.Compile(profile)
	if err != nil || string(second) != string(first) {
		t.Fatalf("cached program differs (%v)", err)
	}
	t.Logf("compile %v, from cache %v", compiled, time.Since(start))

	// Another profile is another entry, never the first's program.
	profile.Syscalls[0].Names = []string{"rmdir"}
	other, err := c.Compile(profile)
	if err != nil || string(other) == string(first) {
		t.Fatalf("a different profile got the same program (%v)", err)
	}
	// A corrupt entry is recompiled, not loaded.
	key, _ := c.key(profile)
	os.WriteFile(filepath.Join(dir, key), []byte("garbage"), 0o600)
	again, err := c.Compile(profile)
	if err != nil || string(again) != string(other) {
		t.Fatalf("corrupt entry not replaced (%v)", err)
	}
}

func TestCacheRefusesOpenDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := NewCache(dir); err == nil {
		t.Fatal("a world-writable cache directory was accepted")
	}
}

// TestCacheEvict: beyond its bound the cache keeps the most recently used
// entries (by mtime); temporary files are no entries, and go once a dead
// writer's (older than staleTemp).
func TestCacheEvict(t *testing.T) {
	now := time.Now()
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	for _, tc := range []struct {
		name  string
		max   int
		files map[string]time.Time // a name ending in / is a directory
		want  []string
	}{
		{"under the bound", 4, map[string]time.Time{"a": ago(3 * time.Hour), "b": ago(time.Hour), "c": ago(time.Minute)},
			[]string{"a", "b", "c"}},
		{"at the bound", 3, map[string]time.Time{"a": ago(3 * time.Hour), "b": ago(time.Hour), "c": ago(time.Minute)},
			[]string{"a", "b", "c"}},
		{"one over", 2, map[string]time.Time{"a": ago(time.Minute), "b": ago(3 * time.Hour), "c": ago(time.Hour)},
			[]string{"a", "c"}},
		{"many over", 2, map[string]time.Time{"a": ago(5 * time.Minute), "b": ago(4 * time.Minute), "c": ago(3 * time.Minute),
			"d": ago(2 * time.Minute), "e": ago(time.Minute)}, []string{"d", "e"}},
		{"temporary files", 2, map[string]time.Time{"a": ago(3 * time.Hour), "b": ago(time.Hour),
			tempPrefix + "live": ago(time.Minute), tempPrefix + "dead": ago(2 * staleTemp)},
			[]string{tempPrefix + "live", "a", "b"}},
		{"a directory is no entry", 1, map[string]time.Time{"a": ago(time.Hour), "b": ago(time.Minute), "d/": ago(3 * time.Hour)},
			[]string{"b", "d"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, mtime := range tc.files {
				p := filepath.Join(dir, strings.TrimSuffix(name, "/"))
				var err error
				if strings.HasSuffix(name, "/") {
					err = os.Mkdir(p, 0o700)
				} else {
					err = os.WriteFile(p, []byte("x"), 0o600)
				}
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Chtimes(p, mtime, mtime); err != nil {
					t.Fatal(err)
				}
			}
			(&Cache{dir: dir, max: tc.max}).evict(now)
			if got := dirNames(t, dir); !slices.Equal(got, tc.want) {
				t.Errorf("left %q, want %q", got, tc.want)
			}
		})
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// cacheProfiles are n small profiles, each a different program.
func cacheProfiles(n int) []*specs.LinuxSeccomp {
	names := []string{"mkdir", "rmdir", "chmod", "chown", "link", "unlink", "rename", "mknod"}
	var ps []*specs.LinuxSeccomp
	for _, name := range names[:n] {
		ps = append(ps, &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{name}, Action: specs.ActErrno}},
		})
	}
	return ps
}

// TestCacheLRU: a hit marks its entry used (when last marked over
// refreshAfter ago), so a new entry evicts the least recently used one; an
// entry evicted is compiled again, the same program.
func TestCacheLRU(t *testing.T) {
	c, err := NewCache(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	c.max = 2
	ps := cacheProfiles(3)
	progs := make([][]byte, len(ps))
	for i, p := range ps[:2] {
		if progs[i], err = c.Compile(p); err != nil {
			t.Fatal(err)
		}
	}
	path := func(p *specs.LinuxSeccomp) string {
		key, err := c.key(p)
		if err != nil {
			t.Fatal(err)
		}
		return filepath.Join(c.dir, key)
	}
	mtime := func(p *specs.LinuxSeccomp) time.Time {
		st, err := os.Stat(path(p))
		if err != nil {
			t.Fatal(err)
		}
		return st.ModTime()
	}
	// 0 was used first; marked 2 h ago, 1 an hour ago.
	for i, d := range []time.Duration{2 * time.Hour, time.Hour} {
		at := time.Now().Add(-d)
		if err := os.Chtimes(path(ps[i]), at, at); err != nil {
			t.Fatal(err)
		}
	}
	if data, hit, err := c.compile(ps[0]); err != nil || !hit || !bytes.Equal(data, progs[0]) {
		t.Fatalf("profile 0: hit %v, %v", hit, err)
	}
	if since := time.Since(mtime(ps[0])); since > time.Minute {
		t.Fatalf("a hit left its entry marked %v ago", since)
	}
	// A mark in the future (the clock set back since) is put right.
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(path(ps[0]), future, future); err != nil {
		t.Fatal(err)
	}
	if _, hit, err := c.compile(ps[0]); err != nil || !hit {
		t.Fatalf("profile 0 marked in the future: hit %v, %v", hit, err)
	}
	if since := time.Since(mtime(ps[0])); since < -time.Minute || since > time.Minute {
		t.Fatalf("a hit left its entry marked %v ahead", -since)
	}
	// A hit within refreshAfter of the mark writes nothing.
	recent := time.Now().Add(-refreshAfter / 2).Truncate(time.Second)
	os.Chtimes(path(ps[0]), recent, recent)
	if _, hit, err := c.compile(ps[0]); err != nil || !hit || !mtime(ps[0]).Equal(recent) {
		t.Fatalf("a second hit: hit %v, %v; mark %v, want %v kept", hit, err, mtime(ps[0]), recent)
	}
	// 2 is new: 1, now the least recently used, goes.
	if _, hit, err := c.compile(ps[2]); err != nil || hit {
		t.Fatalf("profile 2: hit %v, %v", hit, err)
	}
	if _, err := os.Stat(path(ps[1])); !os.IsNotExist(err) {
		t.Errorf("profile 1's entry, the least recently used, is still there (%v)", err)
	}
	for i, wantHit := range []bool{true, false} {
		data, hit, err := c.compile(ps[i])
		if err != nil || hit != wantHit || !bytes.Equal(data, progs[i]) {
			t.Errorf("profile %d: hit %v (want %v), same program %v, %v", i, hit, wantHit, bytes.Equal(data, progs[i]), err)
		}
	}
	if n := len(dirNames(t, c.dir)); n != c.max {
		t.Errorf("cache holds %d entries, bound %d", n, c.max)
	}
}

// TestCacheConcurrent: hull processes sharing a cache far too small for
// their profiles evict each other's entries while they read them; each
// gets its profile's own program every time, and no error.
func TestCacheConcurrent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	if _, err := NewCache(dir); err != nil {
		t.Fatal(err)
	}
	const procs, profiles, max = 6, 6, 2
	var cmds []*exec.Cmd
	for i := range procs {
		cmd := childCommand("cache-worker", cacheDirEnv+"="+dir, fmt.Sprintf("%s=%d", cacheMaxEnv, max),
			fmt.Sprintf("%s=%d,%d", cacheSeedEnv, i, profiles))
		cmd.Stderr = os.Stderr
		cmds = append(cmds, cmd)
	}
	outs := make([]bytes.Buffer, procs)
	for i, cmd := range cmds {
		cmd.Stdout = &outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	total := childResult{}
	for i, cmd := range cmds {
		if err := waitChild(t, cmd); err != nil {
			t.Errorf("worker %d: %v", i, err)
			continue
		}
		var res childResult
		if err := json.Unmarshal(outs[i].Bytes(), &res); err != nil {
			t.Fatalf("worker %d: %q: %v", i, outs[i].String(), err)
		}
		for k, v := range res {
			total[k] += v
		}
	}
	t.Logf("%d workers: %v", procs, total)
	if total["wrong"] != 0 || total["errors"] != 0 {
		t.Errorf("wrong programs or errors: %v", total)
	}
	if total["hits"] == 0 || total["misses"] == 0 {
		t.Errorf("no race: %v", total)
	}
	names := dirNames(t, dir)
	if len(names) > max {
		t.Errorf("the cache holds %d entries once all are done, bound %d: %q", len(names), max, names)
	}
}

const (
	cacheDirEnv  = "HULL_TEST_CACHE_DIR"
	cacheMaxEnv  = "HULL_TEST_CACHE_MAX"
	cacheSeedEnv = "HULL_TEST_CACHE_SEED" // worker number, number of profiles
)

// childCacheWorker compiles the profiles in an order of its own through
// the shared cache, checking each program against one compiled here.
func childCacheWorker() (childResult, error) {
	var max, seed, n int
	if _, err := fmt.Sscanf(os.Getenv(cacheMaxEnv), "%d", &max); err != nil {
		return nil, err
	}
	if _, err := fmt.Sscanf(os.Getenv(cacheSeedEnv), "%d,%d", &seed, &n); err != nil {
		return nil, err
	}
	c, err := NewCache(os.Getenv(cacheDirEnv))
	if err != nil {
		return nil, err
	}
	c.max = max
	ps := cacheProfiles(n)
	want := make([][]byte, n)
	for i, p := range ps {
		f, err := Compile(p)
		if err != nil {
			return nil, err
		}
		if want[i], err = f.MarshalBinary(); err != nil {
			return nil, err
		}
	}
	res := childResult{"hits": 0, "misses": 0, "wrong": 0, "errors": 0}
	for i := range 60 {
		k := (i*(seed+1) + seed) % n
		if i%3 == 0 {
			k = seed % n // one profile used more often: hits
		}
		data, hit, err := c.compile(ps[k])
		switch {
		case err != nil:
			res["errors"]++
			fmt.Fprintln(os.Stderr, err)
		case !bytes.Equal(data, want[k]):
			res["wrong"]++
		case hit:
			res["hits"]++
		default:
			res["misses"]++
		}
	}
	return res, nil
}
