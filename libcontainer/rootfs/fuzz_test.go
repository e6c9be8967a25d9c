package rootfs

import (
	"strings"
	"testing"
)

// FuzzMountOptions: a mount's options (comma-separated here). Never a
// panic; an error names the option it refuses.
func FuzzMountOptions(f *testing.F) {
	f.Add("rbind,ro,nosuid,nodev")
	f.Add("rw,mode=755,size=65536k,uid=0")
	f.Add("idmap,ridmap,rprivate,shared,slave,unbindable")
	f.Add("tmpcopyup,copy-symlink,noatime,strictatime,nodiratime")
	f.Add("bogus,=x,,")
	f.Fuzz(func(t *testing.T, s string) {
		_, err := parseOptions(strings.Split(s, ","))
		if err == nil {
			return
		}
		named := false
		for _, o := range strings.Split(s, ",") {
			if o != "" && strings.Contains(err.Error(), o) || o == "" && strings.Contains(err.Error(), "empty") {
				named = true
			}
		}
		if !named && s != "" {
			t.Errorf("error names none of the options %q: %v", s, err)
		}
	})
}
