package oci

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/internal/rawfile"
)

// Validate checks what every runtime must check before creating anything.
// Each error names the field and value. It covers runtime-tools'
// validator's Linux rules (validate_rt_test.go runs both side by side),
// not its JSON schema check (which downloads the schema) nor its
// bundle-layout advice (rootfs named "rootfs", ociVersion equal to one
// exact version), which real engines do not follow.
func Validate(spec *specs.Spec) error {
	if err := validateCommon(spec); err != nil {
		return err
	}
	// The finer Linux rules (sysctl/namespace pairing, resources, masked
	// path syntax) run once the common checks found nothing, so each fault
	// is reported once.
	return validateLinux(spec.Linux)
}

// validateCommon checks the fields every config has, and the namespaces,
// hooks and devices.
func validateCommon(spec *specs.Spec) error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(SupportedVersion(spec.Version))
	if spec.Root == nil || spec.Root.Path == "" {
		add(errors.New("root.path: missing: a container needs a root filesystem"))
	}
	add(validateProcess(spec.Process))
	add(validateMounts(spec.Mounts))
	add(validateNamespaces(spec.Linux))
	add(validateHooks(spec.Hooks))
	add(validateHostname(spec))
	if spec.Linux != nil {
		add(validateDevices(spec.Linux.Devices))
	}
	return errors.Join(errs...)
}

func validateProcess(p *specs.Process) error {
	if p == nil {
		return errors.New("process: missing: nothing to run")
	}
	var errs []error
	if len(p.Args) == 0 || p.Args[0] == "" {
		errs = append(errs, errors.New("process.args: empty: the first element names the program to run"))
	}
	if p.Cwd == "" || !filepath.IsAbs(p.Cwd) {
		errs = append(errs, fmt.Errorf("process.cwd %q: must be an absolute path", p.Cwd))
	}
	for i, e := range p.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			errs = append(errs, fmt.Errorf("process.env[%d] %q: want KEY=value", i, e))
		}
	}
	if p.Terminal && p.ConsoleSize != nil && (p.ConsoleSize.Height == 0 || p.ConsoleSize.Width == 0) {
		errs = append(errs, fmt.Errorf("process.consoleSize %dx%d: both dimensions must be positive", p.ConsoleSize.Width, p.ConsoleSize.Height))
	}
	return errors.Join(errs...)
}

// bindTypes are mount types that are not filesystems but mean "bind mount".
var bindTypes = map[string]bool{"bind": true, "rbind": true, "": true, "none": true}

func validateMounts(mounts []specs.Mount) error {
	var errs []error
	var known map[string]bool
	for i, m := range mounts {
		if !filepath.IsAbs(m.Destination) {
			errs = append(errs, fmt.Errorf("mounts[%d].destination %q: must be an absolute path", i, m.Destination))
		}
		if bindTypes[m.Type] || IsBind(m) {
			if m.Source == "" {
				errs = append(errs, fmt.Errorf("mounts[%d].source: a bind mount of %s needs a source", i, m.Destination))
			}
			continue
		}
		if known == nil {
			known = kernelFilesystems()
		}
		if !known[m.Type] {
			errs = append(errs, fmt.Errorf("mounts[%d].type %q: unknown mount type (not in /proc/filesystems)", i, m.Type))
		}
	}
	return errors.Join(errs...)
}

// IsBind reports whether a mount is a bind mount, by type or by option.
func IsBind(m specs.Mount) bool {
	if m.Type == "bind" || m.Type == "rbind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// kernelFilesystems lists the filesystem types the running kernel knows.
func kernelFilesystems() map[string]bool {
	known := map[string]bool{}
	data, err := rawfile.ReadSmall("/proc/filesystems", 1024)
	if err != nil {
		return known
	}
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 0 {
			known[fields[len(fields)-1]] = true
		}
	}
	return known
}

var namespaceTypes = map[specs.LinuxNamespaceType]bool{
	specs.PIDNamespace: true, specs.NetworkNamespace: true, specs.MountNamespace: true,
	specs.IPCNamespace: true, specs.UTSNamespace: true, specs.UserNamespace: true,
	specs.CgroupNamespace: true, specs.TimeNamespace: true,
}

func validateNamespaces(l *specs.Linux) error {
	if l == nil {
		return nil
	}
	var errs []error
	seen := map[specs.LinuxNamespaceType]bool{}
	for i, ns := range l.Namespaces {
		switch {
		case !namespaceTypes[ns.Type]:
			errs = append(errs, fmt.Errorf("linux.namespaces[%d].type %q: unknown namespace type", i, ns.Type))
		case seen[ns.Type]:
			errs = append(errs, fmt.Errorf("linux.namespaces[%d].type %q: listed twice", i, ns.Type))
		case ns.Path != "" && !filepath.IsAbs(ns.Path):
			errs = append(errs, fmt.Errorf("linux.namespaces[%d].path %q: must be an absolute path", i, ns.Path))
		}
		seen[ns.Type] = true
	}
	hasUser := seen[specs.UserNamespace]
	if !hasUser && (len(l.UIDMappings) > 0 || len(l.GIDMappings) > 0) {
		errs = append(errs, errors.New("linux.uidMappings: given without a user namespace in linux.namespaces"))
	}
	if len(l.TimeOffsets) > 0 && !seen[specs.TimeNamespace] {
		errs = append(errs, errors.New("linux.timeOffsets: given without a time namespace in linux.namespaces"))
	}
	return errors.Join(errs...)
}

func validateHooks(h *specs.Hooks) error {
	if h == nil {
		return nil
	}
	var errs []error
	check := func(kind string, hooks []specs.Hook) {
		for i, hook := range hooks {
			field := fmt.Sprintf("hooks.%s[%d].path", kind, i)
			if !filepath.IsAbs(hook.Path) {
				errs = append(errs, fmt.Errorf("%s %q: must be an absolute path", field, hook.Path))
				continue
			}
			// startContainer hooks' paths resolve in the container (after
			// pivot_root); every other kind's in the runtime's namespace.
			if kind == "startContainer" {
				continue
			}
			fi, err := os.Stat(hook.Path)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("%s %q: %w", field, hook.Path, err))
			case fi.IsDir() || fi.Mode()&0o111 == 0:
				errs = append(errs, fmt.Errorf("%s %q: not an executable file", field, hook.Path))
			}
			if hook.Timeout != nil && *hook.Timeout <= 0 {
				errs = append(errs, fmt.Errorf("hooks.%s[%d].timeout %d: must be positive", kind, i, *hook.Timeout))
			}
		}
	}
	//lint:ignore SA1019 deprecated by the spec, still honoured by runtimes
	check("prestart", h.Prestart)
	check("createRuntime", h.CreateRuntime)
	check("createContainer", h.CreateContainer)
	check("startContainer", h.StartContainer)
	check("poststart", h.Poststart)
	check("poststop", h.Poststop)
	return errors.Join(errs...)
}

func validateHostname(spec *specs.Spec) error {
	if spec.Hostname == "" && spec.Domainname == "" {
		return nil
	}
	if spec.Linux != nil {
		for _, ns := range spec.Linux.Namespaces {
			if ns.Type == specs.UTSNamespace {
				return nil
			}
		}
	}
	return fmt.Errorf("hostname %q: needs a UTS namespace in linux.namespaces", spec.Hostname)
}

func validateDevices(devices []specs.LinuxDevice) error {
	var errs []error
	seen := map[string]bool{}
	for i, d := range devices {
		switch {
		case !filepath.IsAbs(d.Path):
			errs = append(errs, fmt.Errorf("linux.devices[%d].path %q: must be an absolute path", i, d.Path))
		case d.Type != "c" && d.Type != "b" && d.Type != "u" && d.Type != "p":
			errs = append(errs, fmt.Errorf("linux.devices[%d].type %q: must be c, b, u or p", i, d.Type))
		case seen[d.Path]:
			errs = append(errs, fmt.Errorf("linux.devices[%d].path %q: listed twice", i, d.Path))
		}
		seen[d.Path] = true
	}
	return errors.Join(errs...)
}
