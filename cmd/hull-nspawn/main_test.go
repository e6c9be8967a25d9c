package main

import (
	"reflect"
	"testing"
)

// TestCommands: every command hull hands over has its action here.
func TestCommands(t *testing.T) {
	var names []string
	for _, c := range commands() {
		names = append(names, c.Name)
		if c.Action == nil {
			t.Errorf("%s: no action", c.Name)
		}
	}
	if want := []string{"nspawn", "convert", "nspawn-hook"}; !reflect.DeepEqual(names, want) {
		t.Errorf("commands %q, want %q", names, want)
	}
}

// TestSplitHullArgs: hull's own options come out of an nspawn command line
// anywhere before "--", in both spellings; the rest stays in order.
func TestSplitHullArgs(t *testing.T) {
	for _, tc := range []struct {
		in      []string
		want    hullArgs
		wantErr bool
	}{
		{in: []string{"-b", "-D", "/m", "--bundle", "/out"}, want: hullArgs{nspawn: []string{"-b", "-D", "/m"}, bundle: "/out"}},
		{in: []string{"--nspawn-file=/f.nspawn", "-M", "x", "--cgroups-path", "/c"}, want: hullArgs{nspawn: []string{"-M", "x"}, nspawnFile: "/f.nspawn", cgroupsPath: "/c"}},
		{in: []string{"-D", "/m", "--", "sh", "--bundle", "x"}, want: hullArgs{nspawn: []string{"-D", "/m", "--", "sh", "--bundle", "x"}}},
		{in: []string{"--bundle"}, wantErr: true},
	} {
		got, err := splitHullArgs(tc.in)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%q: no error", tc.in)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}
