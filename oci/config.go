package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/internal/rawfile"
)

// ConfigFile is the name of a bundle's configuration, per runtime-spec bundle.md.
const ConfigFile = "config.json"

// Bundle is a loaded bundle: its absolute directory, its spec and its rootfs.
type Bundle struct {
	Dir    string // absolute path of the bundle directory
	Spec   *specs.Spec
	Rootfs string // absolute path of root.path, symlinks in the bundle path resolved
	// Config is config.json's bytes, while Spec is what they decode to
	// (nil where LoadBundle changed Spec: a relative bind source made
	// absolute): the state file keeps them rather than encode the spec.
	Config []byte
}

// ConfigPath is the absolute path of the bundle's config.json, used in error messages.
func (b *Bundle) ConfigPath() string { return filepath.Join(b.Dir, ConfigFile) }

// LoadBundle reads and validates dir/config.json.
func LoadBundle(dir string) (*Bundle, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("bundle %q: %w", dir, err)
	}
	path := filepath.Join(abs, ConfigFile)
	spec, data, err := readSpec(path)
	if err != nil {
		return nil, err
	}
	b := &Bundle{Dir: abs, Spec: spec, Config: data}
	if err := Validate(spec); err != nil {
		// runc's words first: scripts and engines match "invalid
		// configuration".
		return nil, fmt.Errorf("invalid configuration: %s: %w", path, err)
	}
	if b.Rootfs, err = resolveRootfs(abs, spec.Root.Path); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if absBindSources(spec.Mounts, abs) {
		b.Config = nil
	}
	return b, nil
}

// ReadSpec decodes a config.json; unknown fields are allowed, as the spec asks.
func ReadSpec(path string) (*specs.Spec, error) {
	spec, _, err := readSpec(path)
	return spec, err
}

// readSpec is ReadSpec, also returning the file's bytes.
func readSpec(path string) (*specs.Spec, []byte, error) {
	data, err := rawfile.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s: no such file: a bundle needs a %s (hull spec writes one)", path, ConfigFile)
		}
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	spec, err := DecodeSpec(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: invalid JSON: %w", path, describeJSONError(data, err))
	}
	return spec, data, nil
}

func describeJSONError(data []byte, err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line := 1 + strings.Count(string(data[:syn.Offset]), "\n")
		return fmt.Errorf("line %d: %w", line, err)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Errorf("field %q: value of type %s where %s was expected", typ.Field, typ.Value, typ.Type)
	}
	return err
}

// resolveRootfs makes root.path absolute (relative to the bundle) and resolves
// symlinks, so every later step works on the real directory.
func resolveRootfs(bundle, root string) (string, error) {
	p := root
	if !filepath.IsAbs(p) {
		p = filepath.Join(bundle, p)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("root.path %q: %w", root, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("root.path %q: %w", root, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("root.path %q: not a directory", root)
	}
	return real, nil
}

// SupportedVersion reports whether hull can run a config of this ociVersion:
// any 1.x up to the spec version hull was built against.
func SupportedVersion(v string) error {
	major, minor, ok := parseMajorMinor(v)
	if !ok {
		return fmt.Errorf("ociVersion %q: not a semantic version", v)
	}
	wantMajor, wantMinor, _ := parseMajorMinor(specs.Version)
	if major != wantMajor || minor > wantMinor {
		return fmt.Errorf("ociVersion %q: unsupported, hull implements runtime-spec %s", v, specs.Version)
	}
	return nil
}

func parseMajorMinor(v string) (int, int, bool) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	return major, minor, err1 == nil && err2 == nil
}

// absBindSources makes relative bind-mount sources absolute: the spec reads
// them relative to the bundle, and the container's init runs elsewhere.
// It reports whether it changed any.
func absBindSources(mounts []specs.Mount, bundle string) bool {
	changed := false
	for i := range mounts {
		m := &mounts[i]
		if IsBind(*m) && m.Source != "" && !filepath.IsAbs(m.Source) {
			m.Source = filepath.Join(bundle, m.Source)
			changed = true
		}
	}
	return changed
}
