package libcontainer

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"testing"
	"time"

	"github.com/hull-runtime/hull/libcontainer/cgroups"
	"github.com/hull-runtime/hull/libcontainer/state"
)

// TestEncodeStateAsMarshal: encodeState writes what json.Marshal writes
// for the state file, byte for byte, for strings that need escaping
// (quotes, control characters, <>&, U+2028, invalid UTF-8), every
// omitempty case and specs as config.json may hold them.
func TestEncodeStateAsMarshal(t *testing.T) {
	strs := []string{"", "c", "/run/b", "a\"b\\c", "\x00\x1f\n\t", "<a&b>", "\u2028\u2029", "\xff\xfe", "é世🙂"}
	specsRaw := []json.RawMessage{nil, json.RawMessage(`{}`), json.RawMessage("{\n \"a\": [1, 2],\n \"b\": \"<&>\u2028\"\n}"), json.RawMessage(`null`)}
	r := rand.New(rand.NewSource(1))
	pick := func() string { return strs[r.Intn(len(strs))] }
	for i := 0; i < 500; i++ {
		s := Saved{ID: pick(), Bundle: pick(), Rootfs: pick(),
			Created: time.Unix(r.Int63n(1<<33), r.Int63n(1e9)).In(time.FixedZone("z", 3600*(r.Intn(5)-2))),
			Init:    state.Process{Pid: r.Intn(1<<22) - 10, StartTime: r.Uint64()}}
		if r.Intn(3) > 0 {
			cg := cgroups.State{Driver: cgroups.Driver(pick()), Path: pick(), Dir: pick(), SystemdUser: r.Intn(3) - 1}
			for n := r.Intn(3); n > 0; n-- {
				if cg.Paths == nil {
					cg.Paths = map[string]string{}
				}
				cg.Paths[pick()] = pick()
			}
			s.Cgroup = &cg
		}
		s.NoNewKeyring = r.Intn(2) == 0
		spec := specsRaw[r.Intn(len(specsRaw))]
		want, werr := json.Marshal(savedFile{Saved: s, Spec: spec})
		got, gerr := encodeState(&s, spec)
		if werr != nil || gerr != nil || !bytes.Equal(got, want) {
			t.Fatalf("encodeState:\n%s (%v)\njson.Marshal:\n%s (%v)", got, gerr, want, werr)
		}
	}
}

// An invalid spec fails as json.Marshal fails.
func TestEncodeStateBadSpec(t *testing.T) {
	for _, spec := range []json.RawMessage{{}, json.RawMessage(`{"a":`), json.RawMessage(`{} {}`)} {
		_, werr := json.Marshal(savedFile{Spec: spec})
		_, gerr := encodeState(&Saved{}, spec)
		if werr == nil || gerr == nil {
			t.Errorf("spec %q: encodeState %v, json.Marshal %v: want both to fail", spec, gerr, werr)
		}
	}
}
