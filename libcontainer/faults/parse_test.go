package faults

import "testing"

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		name string
		n    int
	}{
		{"", "", 1},
		{"create/cgroup made", "create/cgroup made", 1},
		{"create/cgroup made:3", "create/cgroup made", 3},
		{"init/pivot root:1", "init/pivot root", 1},
		{"x:0", "x:0", 1},
		{"x:-2", "x:-2", 1},
		{"x:y", "x:y", 1},
		{"a:b:2", "a:b", 2},
	}
	for _, c := range cases {
		name, n := Parse(c.in)
		if name != c.name || n != c.n {
			t.Errorf("Parse(%q) = %q, %d; want %q, %d", c.in, name, n, c.name, c.n)
		}
	}
}
