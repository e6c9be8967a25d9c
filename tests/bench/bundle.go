package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// bundle is the one OCI bundle every runtime runs. Only process.args and
// linux.cgroupsPath change between containers; config.json is rewritten
// (untimed) before each create/run because runtimes read it only then.
type bundle struct {
	dir  string
	base specs.Spec
}

// newBundle makes dir/config.json from `runc spec`, the default config most
// tools start from, pointed at rootfs.
func newBundle(ctx context.Context, runcPath, dir, rootfs string) (*bundle, error) {
	if runcPath == "" {
		return nil, fmt.Errorf("runc is needed to generate the default config (runc spec)")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, runcPath, "spec", "--bundle", dir)
	cmd.WaitDelay = time.Second // a hung runc's children may hold the output pipe
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("runc spec --bundle %s: %w: %s", dir, err, strings.TrimSpace(string(out)))
	}
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("read generated config: %w", err)
	}
	b := &bundle{dir: dir}
	if err := json.Unmarshal(raw, &b.base); err != nil {
		return nil, fmt.Errorf("parse generated config %s: %w", filepath.Join(dir, "config.json"), err)
	}
	if err := b.setRootfs(rootfs); err != nil {
		return nil, err
	}
	if b.base.Process == nil || b.base.Linux == nil {
		return nil, fmt.Errorf("runc spec output has no process or linux section")
	}
	b.base.Process.Terminal = false
	return b, nil
}

// setRootfs points root.path at the rootfs by absolute, symlink-free path,
// so the bundle dir holds no link or mount that a cleanup could follow.
func (b *bundle) setRootfs(rootfs string) error {
	abs, err := filepath.Abs(rootfs)
	if err != nil {
		return fmt.Errorf("rootfs %q: %w", rootfs, err)
	}
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return fmt.Errorf("rootfs %q: %w", rootfs, err)
	}
	if _, err := os.Lstat(filepath.Join(resolved, "bin", "true")); err != nil {
		return fmt.Errorf("rootfs %q has no bin/true (make it with tests/rootfs/busybox.sh)", rootfs)
	}
	if b.base.Root == nil {
		b.base.Root = &specs.Root{}
	}
	b.base.Root.Path = resolved
	return nil
}

// configFor returns the base config with args and an absolute cgroupsPath.
// A relative or empty cgroupsPath would put the container under the
// caller's own cgroup, which this bench must never touch.
func (b *bundle) configFor(args []string, cgroupsPath string) (specs.Spec, error) {
	if !strings.HasPrefix(cgroupsPath, "/") || len(cgroupsPath) < 2 {
		return specs.Spec{}, fmt.Errorf("cgroupsPath %q is not absolute", cgroupsPath)
	}
	if len(args) == 0 {
		return specs.Spec{}, fmt.Errorf("empty process.args")
	}
	c := b.base
	proc := *b.base.Process
	proc.Args = append([]string(nil), args...)
	c.Process = &proc
	lin := *b.base.Linux
	lin.CgroupsPath = cgroupsPath
	c.Linux = &lin
	return c, nil
}

// write installs the config for the next container.
func (b *bundle) write(args []string, cgroupsPath string) error {
	return b.writeEdited(args, cgroupsPath, nil)
}

// writeEdited is write with edit applied to the config first; edit gets a
// copy whose process and linux sections it may replace, but must not
// change what their pointers share with the base.
func (b *bundle) writeEdited(args []string, cgroupsPath string, edit func(*specs.Spec)) error {
	c, err := b.configFor(args, cgroupsPath)
	if err != nil {
		return err
	}
	if edit != nil {
		edit(&c)
	}
	raw, err := json.MarshalIndent(&c, "", "\t")
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	p := filepath.Join(b.dir, "config.json")
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("install %s: %w", p, err)
	}
	return nil
}
