package nspawnconv

import (
	"reflect"
	"strings"
	"testing"
)

func TestRegistrationHooks(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []HookStep // register and unregister only
	}{
		{"default auto", nil, []HookStep{
			{Stage: "createRuntime", Action: "register", Args: []string{"auto", "m", "ID", "ROOT", "", "no"}, Key: "--register=auto"},
			{Stage: "poststop", Action: "unregister", Args: []string{"m"}, Key: "--register=auto"}}},
		{"yes, keep-unit, slice, veth", []string{"--register=yes", "--keep-unit", "-S", "hull-test.slice", "-n"}, []HookStep{
			{Stage: "createRuntime", Action: "register", Args: []string{"yes", "m", "ID", "ROOT", "hull-test.slice", "yes", "ve-m"}, Key: "--register=yes"},
			{Stage: "poststop", Action: "unregister", Args: []string{"m"}, Key: "--register=yes"}}},
		{"no", []string{"--register=no"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "m")
			c, err := mustCLI(t, append([]string{"-D", f.root, "-M", "m"}, tc.args...)...).ToSpec(f.options())
			if err != nil {
				t.Fatal(err)
			}
			var got []HookStep
			for _, h := range c.Hooks {
				if h.Action == "register" || h.Action == "unregister" {
					if h.Action == "register" {
						if h.Args[2] != strings.ReplaceAll(c.UUID, "-", "") || len(h.Args[2]) != 32 || h.Args[3] != f.root {
							t.Errorf("register args %q: uuid %q root %q", h.Args, c.UUID, f.root)
						}
						h.Args[2], h.Args[3] = "ID", "ROOT"
					}
					got = append(got, h)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("hooks\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
