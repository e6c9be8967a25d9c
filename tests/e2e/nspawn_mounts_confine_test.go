package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/tests/testenv"
)

// runConvertedNspawn converts nspawn flags for a copy of the busybox image,
// runs the script in it under hull with a unique cgroup below /hull-e2e,
// and returns what it printed. Container, cgroups and directories are
// removed on every exit.
func runConvertedNspawn(t *testing.T, flags []string, script string) string {
	t.Helper()
	bin, rootfs := testenv.RequireHull(t, "end-to-end tests")
	name := "nsc" + randomSuffix()
	cg := cgroupParent + "/" + name
	dir := t.TempDir()
	root, bundle, image := filepath.Join(dir, "state"), filepath.Join(dir, "bundle"), filepath.Join(dir, "image")
	t.Cleanup(func() {
		exec.Command(bin, "--root", root, "delete", "--force", name).Run()
		for _, d := range cgroupDirs(cg) {
			removeCgroupTree(d)
		}
	})
	if out, err := exec.Command("cp", "-a", rootfs, image).CombinedOutput(); err != nil {
		t.Fatalf("copy rootfs: %v: %s", err, out)
	}
	args := append([]string{"convert", "--bundle", bundle, "-D", image, "-M", name, "--console=pipe", "--cgroups-path", cg}, flags...)
	if out, err := exec.Command(bin, append(args, "--", "/bin/sh", "-c", script)...).CombinedOutput(); err != nil {
		t.Fatalf("hull %v: %v\n%s", args, err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hullTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--root", root, "run", "--bundle", bundle, name).CombinedOutput()
	if err != nil {
		t.Fatalf("hull run: %v\n%s", err, out)
	}
	return string(out)
}

// mountTmpfs mounts a tmpfs on dir for the test and unmounts it after.
func mountTmpfs(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755,size=1m"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
}

func wantLines(t *testing.T, out string, want, not []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w+"\n") {
			t.Errorf("want %q in:\n%s", w, out)
		}
	}
	for _, n := range not {
		if strings.Contains(out, n+"\n") {
			t.Errorf("unwanted %q in:\n%s", n, out)
		}
	}
}

// TestNspawnHostConsoleDenied: nspawn never allows c 5:1 (its
// /dev/console is a pty); a converted machine, which keeps CAP_MKNOD, may
// make the node but not open it, while an allowed node (1:3) opens.
func TestNspawnHostConsoleDenied(t *testing.T) {
	out := runConvertedNspawn(t, nil, `
mknod /dev/hc c 5 1 2>/dev/null || echo mknod-refused
if echo x > /dev/hc 2>/dev/null; then echo console-opened; else echo console-denied; fi
mknod /dev/n2 c 1 3 && echo x > /dev/n2 && echo null-opened`)
	wantLines(t, out, []string{"console-denied", "null-opened"}, []string{"console-opened"})
}

// TestNspawnBindReadOnlySubmounts: BindReadOnly= is recursive in nspawn; a
// tmpfs mounted below the host source is read-only inside too.
func TestNspawnBindReadOnlySubmounts(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	mountTmpfs(t, filepath.Join(src, "sub"))
	out := runConvertedNspawn(t, []string{"--bind-ro=" + src + ":/data"}, `
touch /data/top 2>/dev/null && echo top-writable || echo top-ro
touch /data/sub/x 2>/dev/null && echo sub-writable || echo sub-ro`)
	wantLines(t, out, []string{"top-ro", "sub-ro"}, []string{"top-writable", "sub-writable"})
}

// TestNspawnCustomMountsSorted: mounts are made in nspawn's order (by
// destination), so "/srv/ro" bound read-only before "/srv" on the command
// line still ends up on top of it.
func TestNspawnCustomMountsSorted(t *testing.T) {
	dir := t.TempDir()
	rw, ro := filepath.Join(dir, "rw"), filepath.Join(dir, "ro")
	for p, marker := range map[string]string{rw: "rw", ro: "ro"} {
		if err := os.MkdirAll(filepath.Join(p, "ro"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "marker"), []byte(marker+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := runConvertedNspawn(t, []string{"--bind-ro=" + ro + ":/srv/ro", "--bind=" + rw + ":/srv"}, `
echo "srv=$(cat /srv/marker)"
echo "srvro=$(cat /srv/ro/marker 2>/dev/null)"
touch /srv/ro/x 2>/dev/null && echo ro-writable || echo ro-readonly`)
	wantLines(t, out, []string{"srv=rw", "srvro=ro", "ro-readonly"}, []string{"ro-writable"})
}

// TestReadonlyRootSubmounts: with root.readonly, a mount the host has below
// the rootfs directory is read-only inside too, as nspawn's ReadOnly=
// makes the whole tree (a converted machine with ReadOnly=yes was writable
// there, found by review); without it, it stays writable. runc, which makes
// the root mount alone read-only, is the control and is logged.
func TestReadonlyRootSubmounts(t *testing.T) {
	for _, rt := range cliRuntimes(t) {
		for _, readonly := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/readonly=%v", rt, readonly), func(t *testing.T) {
				c := newRuntimeContainer(t, rt, func(s *specs.Spec) {
					s.Process.Args = sh("touch /srv/x 2>/dev/null && echo srv-writable || echo srv-ro; touch /y 2>/dev/null && echo root-writable || echo root-ro")
				})
				root := c.privateRootfs()
				c.Spec.Root.Readonly = readonly
				c.writeSpec()
				mountTmpfs(t, filepath.Join(root, "srv"))
				r := c.run()
				if r.Code != 0 {
					t.Fatalf("%s", r)
				}
				want := []string{"srv-writable", "root-writable"}
				if readonly {
					want = []string{"srv-ro", "root-ro"}
				}
				if rt == "runc" {
					t.Logf("control: %q", strings.Fields(r.Stdout))
					return
				}
				if got := strings.Fields(r.Stdout); strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("inside: %q, want %q", got, want)
				}
			})
		}
	}
}
