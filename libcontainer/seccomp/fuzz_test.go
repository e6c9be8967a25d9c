package seccomp

import (
	"encoding/json"
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FuzzProfile: a linux.seccomp profile, validated and compiled to BPF as
// create does. Never a panic; what Validate accepts compiles or fails with
// an error.
func FuzzProfile(f *testing.F) {
	if data, err := os.ReadFile("testdata/default.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"}]}`))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["clone"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":2114060288,"op":"SCMP_CMP_MASKED_EQ"}]}]}`))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_NOTIFY","listenerPath":"/x","flags":["SECCOMP_FILTER_FLAG_LOG"]}`))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_KILL_BOGUS","syscalls":[{"names":[],"action":""}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p specs.LinuxSeccomp
		if json.Unmarshal(data, &p) != nil {
			return
		}
		if Validate(&p) != nil {
			return
		}
		flt, err := Compile(&p)
		if err == nil {
			flt.Release()
		}
	})
}
