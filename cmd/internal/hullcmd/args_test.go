package hullcmd

import (
	"reflect"
	"strings"
	"testing"
)

// TestInterspersedArgs: flags after the id move in front of it, for the
// commands runc reorders, with values kept next to their flags; exec's and
// ps's arguments after the id are left alone, and so is what follows "--".
func TestInterspersedArgs(t *testing.T) {
	app := newApp(&logTarget{}, Build{}, append(RuntimeCommands(), NspawnSide()...))
	for _, tc := range []struct{ in, want string }{
		{"hull update ID --cpuset-cpus 1", "hull update --cpuset-cpus 1 ID"},
		{"hull --root /r update ID --memory 1m --cpu-share=512", "hull --root /r update --memory 1m --cpu-share=512 ID"},
		{"hull update --pids-limit 5 ID --cpu-quota -1", "hull update --pids-limit 5 --cpu-quota -1 ID"},
		{"hull delete ID --force", "hull delete --force ID"},
		{"hull kill ID KILL --all", "hull kill --all ID KILL"},
		{"hull run ID -d --bundle /b", "hull run -d --bundle /b ID"},
		{"hull run -dt ID --bundle /b", "hull run -dt --bundle /b ID"},
		{"hull list -q --format json", "hull list -q --format json"},
		{"hull state ID --help", "hull state --help ID"},
		{"hull state ID -h", "hull state -h ID"},
		{"hull -h state ID", "hull -h state ID"},
		{"hull exec ID sh -c --tty", "hull exec ID sh -c --tty"},
		{"hull exec -t ID ls -l", "hull exec -t ID ls -l"},
		{"hull ps ID -o pid --format json", "hull ps ID -o pid --format json"},
		{"hull update ID -- --memory 1m", "hull update ID -- --memory 1m"},
		{"hull update -- ID --memory 1m", "hull update -- ID --memory 1m"},
		{"hull update ID --unknown x", "hull update ID --unknown x"},
		{"hull nspawn -D /m -b --machine x", "hull nspawn -D /m -b --machine x"},
		{"hull nspawn-hook umount /x --y", "hull nspawn-hook umount /x --y"},
		{"hull", "hull"},
		{"hull --debug", "hull --debug"},
		{"hull nosuch ID --x", "hull nosuch ID --x"},
	} {
		got := interspersedArgs(app, strings.Fields(tc.in))
		if want := strings.Fields(tc.want); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.in, got, want)
		}
	}
}

// TestSubCgroupPaths: exec --cgroup's forms, as runc reads them.
func TestSubCgroupPaths(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want map[string]string
		err  string
	}{
		{nil, nil, ""},
		{[]string{"sub"}, map[string]string{"": "sub"}, ""},
		{[]string{"pids:a", "cpu,cpuacct:b/c"}, map[string]string{"pids": "a", "cpu": "b/c", "cpuacct": "b/c"}, ""},
		{[]string{"a", "b"}, nil, "missing <controller>: prefix"},
		{[]string{":a"}, nil, "empty <controller> prefix"},
		{[]string{"pids:a", "pids:b"}, nil, "controller pids specified multiple times"},
	} {
		got, err := subCgroupPaths(tc.args)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %v, %v; want %v", tc.args, got, err, tc.want)
		}
	}
}
