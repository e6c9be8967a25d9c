package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hull-runtime/hull/tests/testenv"
)

// buildSysprobe builds the static probe the confinement tests run inside
// containers.
func buildSysprobe(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "sysprobe")
	cmd := exec.Command("go", "build", "-o", out, "./testdata/sysprobe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build sysprobe: %v\n%s", err, b)
	}
	return out
}

// TestNspawnDockerRecipe is the seed's "Docker in a container" recipe
// (SystemCallFilter=add_key keyctl bpf, Bind=/dev/fuse) converted and run
// under hull and runc: without the setting keyctl and add_key fail with
// EPERM (nspawn's filter), with it they reach the kernel; the bound
// /dev/fuse opens (the device rules allow a bound node); and the same file
// outside nspawn's trusted directories loses its privileged settings
// (Capability=, the allow entries, the bind) with warnings naming them.
func TestNspawnDockerRecipe(t *testing.T) {
	bin, rootfs := testenv.RequireHull(t, "end-to-end tests")
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse on this host")
	}
	probe := buildSysprobe(t)
	const recipe = "[Exec]\nCapability=CAP_SYS_TIME\nSystemCallFilter=add_key keyctl bpf\n[Files]\nBind=/dev/fuse\n"
	cases := []struct {
		name, file string
		trusted    bool
		want       []string
		warn       []string
	}{
		{"without the setting", "[Files]\nBind=/dev/fuse\n", true,
			[]string{"keyctl=EPERM", "add_key=EPERM", "fuse=ok", "cap_sys_time=no"}, nil},
		{"with the setting", recipe, true,
			[]string{"keyctl=ok", "add_key=ok", "fuse=ok", "cap_sys_time=yes"}, nil},
		{"untrusted file", recipe, false,
			[]string{"keyctl=EPERM", "add_key=EPERM", "fuse=ENOENT", "cap_sys_time=no"},
			[]string{"ignoring Capability=", "ignoring allow-listed SystemCallFilter=", "ignoring Bind="}},
	}
	for _, rt := range []string{"hull", "runc"} {
		runtime := bin
		if rt != "hull" {
			p, err := exec.LookPath(rt)
			if err != nil {
				t.Logf("%s not installed, skipped", rt)
				continue
			}
			runtime = p
		}
		for _, tc := range cases {
			t.Run(rt+" "+tc.name, func(t *testing.T) {
				name := "dk" + randomSuffix()
				cg := cgroupParent + "/" + name
				dir := t.TempDir() // not a trusted directory
				root, bundle := filepath.Join(dir, "state"), filepath.Join(dir, "bundle")
				t.Cleanup(func() {
					exec.Command(runtime, "--root", root, "delete", "--force", name).Run()
					for _, d := range cgroupDirs(cg) {
						removeCgroupTree(d)
					}
				})
				// the probe goes into a copy of the image: a --bind on the
				// command line would override the file's Bind= (as in nspawn)
				image := filepath.Join(dir, "image")
				if out, err := exec.Command("cp", "-a", rootfs, image).CombinedOutput(); err != nil {
					t.Fatalf("copy rootfs: %v: %s", err, out)
				}
				if out, err := exec.Command("install", "-m", "0755", probe, filepath.Join(image, "sysprobe")).CombinedOutput(); err != nil {
					t.Fatalf("copy probe: %v: %s", err, out)
				}
				file := filepath.Join(dir, name+".nspawn")
				if err := os.WriteFile(file, []byte(tc.file), 0o644); err != nil {
					t.Fatal(err)
				}
				args := []string{"convert", "--bundle", bundle, "--nspawn-file", file, "-D", image, "-M", name,
					"--console=pipe", "--cgroups-path", cg}
				if tc.trusted {
					args = append(args, "--settings=trusted")
				}
				conv, err := exec.Command(bin, append(args, "--", "/sysprobe", "keyctl", "add_key", "fuse", "cap_sys_time")...).CombinedOutput()
				if err != nil {
					t.Fatalf("hull %v: %v\n%s", args, err, conv)
				}
				for _, w := range tc.warn {
					if !strings.Contains(string(conv), w) || !strings.Contains(string(conv), file) {
						t.Errorf("convert output lacks %q naming %s:\n%s", w, file, conv)
					}
				}
				ctx, cancel := context.WithTimeout(context.Background(), hullTimeout)
				defer cancel()
				out, err := exec.CommandContext(ctx, runtime, "--root", root, "run", "--bundle", bundle, name).CombinedOutput()
				if err != nil {
					t.Fatalf("%s run: %v\n%s", rt, err, out)
				}
				for _, w := range tc.want {
					if !strings.Contains(string(out), w+"\n") {
						t.Errorf("want %s, got:\n%s", w, out)
					}
				}
			})
		}
	}
}
