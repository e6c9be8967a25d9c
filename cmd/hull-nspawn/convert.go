package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/cmd/internal/hullcmd"
	nspawnhooks "github.com/hull-runtime/hull/hooks/nspawn"
	"github.com/hull-runtime/hull/nspawnconv"
	"github.com/hull-runtime/hull/oci"
)

// convert writes a machine's OCI bundle (`hull convert`).
func convert(c *cli.Context) error {
	a, err := splitHullArgs(c.Args().Slice())
	if err != nil {
		return err
	}
	if hasFlag(a.nspawn, "-h", "--help") {
		printNspawnHelp(os.Stdout, "convert")
		return nil
	}
	if a.bundle == "" {
		return errors.New("convert: --bundle OUT is required")
	}
	cv, err := convertMachine(a)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "hull: machine %s converted into %s\n", cv.MachineName, a.bundle)
	return nil
}

// hullArgs are the few options hull adds to nspawn's command line.
type hullArgs struct {
	nspawn      []string // everything else, for nspawnconv
	bundle      string
	nspawnFile  string
	cgroupsPath string
	// rootfs, when set, is where the machine's directory is reachable
	// (a bind of it, see reachableRoot); the settings keep the original.
	rootfs string
}

// splitHullArgs takes hull's own options out of an nspawn command line.
// They are recognised anywhere before "--" (telling nspawn's option values
// from its command would need nspawn's whole option table), so a command
// whose own arguments look like hull's options must follow "--".
func splitHullArgs(args []string) (hullArgs, error) {
	var a hullArgs
	own := map[string]*string{"--bundle": &a.bundle, "--nspawn-file": &a.nspawnFile, "--cgroups-path": &a.cgroupsPath}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			a.nspawn = append(a.nspawn, args[i:]...)
			break
		}
		name, val, hasVal := strings.Cut(arg, "=")
		dst, ok := own[name]
		if !ok {
			a.nspawn = append(a.nspawn, arg)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return a, fmt.Errorf("%s: missing value", name)
			}
			i++
			val = args[i]
		}
		*dst = val
	}
	return a, nil
}

// loadSettings reads the command line and the machine's .nspawn file: the
// one given with --nspawn-file, else the one nspawn would find. Either is
// trusted only where nspawn would trust it (or with --settings=trusted).
func loadSettings(a hullArgs) (*nspawnconv.Settings, []string, error) {
	if a.nspawnFile == "" {
		return nspawnconv.Load(a.nspawn, os.LookupEnv, nspawnconv.DefaultSearchRoots)
	}
	cliSettings, err := nspawnconv.ParseCommandLine(a.nspawn, os.LookupEnv)
	if err != nil {
		return nil, nil, err
	}
	file, warnings, err := nspawnconv.ParseFile(a.nspawnFile)
	if err != nil {
		return nil, warnings, err
	}
	trusted, err := nspawnconv.DefaultSearchRoots.Trusts(a.nspawnFile)
	if err != nil {
		return nil, warnings, err
	}
	merged, mw := nspawnconv.MergeFile(cliSettings, file, a.nspawnFile, trusted)
	return merged, append(warnings, mw...), nil
}

// convertMachine converts the settings into a.bundle and performs the
// pre-steps, recording them in the bundle so they can be applied again.
// On failure it undoes what it did: a bundle directory it made is removed.
func convertMachine(a hullArgs) (*nspawnconv.Conversion, error) {
	s, warnings, err := loadSettings(a)
	if err != nil {
		return nil, err
	}
	if s.Directory == "" && s.Image == "" {
		if s.Directory, err = defaultDirectory(s.Machine, machineSearchPath); err != nil {
			return nil, err
		}
	}
	bundle, err := filepath.Abs(a.bundle)
	if err != nil {
		return nil, err
	}
	_, statErr := os.Lstat(bundle)
	created := errors.Is(statErr, fs.ErrNotExist)
	if err := os.MkdirAll(bundle, 0o755); err != nil {
		return nil, fmt.Errorf("bundle %s: %w", bundle, err)
	}
	cv, err := convertInto(bundle, s, a.cgroupsPath, a.rootfs, warnings)
	if err != nil {
		undoConversion(bundle, created, cv)
		return nil, err
	}
	return cv, nil
}

func convertInto(bundle string, s *nspawnconv.Settings, cgroupsPath, rootfs string, warnings []string) (*nspawnconv.Conversion, error) {
	opts, err := conversionOptions(bundle, cgroupsPath)
	if err != nil {
		return nil, err
	}
	opts.Rootfs = rootfs
	if s.ProcessTwo && !s.Boot {
		if opts.InitPath, err = stubInitPath(); err != nil {
			return nil, err
		}
	}
	cv, err := s.ToSpec(opts)
	if err != nil {
		return nil, err
	}
	cv.Spec.Version = portableVersion(cv.Spec)
	for _, w := range append(warnings, cv.Warnings...) {
		fmt.Fprintf(os.Stderr, "hull: warning: %s\n", w)
	}
	if err := writeBundle(bundle, cv); err != nil {
		return cv, err
	}
	warn := func(m string) { fmt.Fprintf(os.Stderr, "hull: warning: %s\n", m) }
	if err := nspawnhooks.ApplyPreSteps(cv.PreSteps, warn); err != nil {
		return cv, err
	}
	return cv, nil
}

// undoConversion runs the conversion's poststop file system actions
// (unmounting the overlays and tmpfs pre-steps may have mounted, removing
// their trees),
// then removes the bundle directory if this conversion made it.
func undoConversion(bundle string, created bool, cv *nspawnconv.Conversion) {
	if cv != nil {
		for _, h := range cv.Hooks {
			// Only the file system work of the pre-steps; the network
			// actions concern a container, and there is none yet.
			if h.Stage != "poststop" || (h.Action != nspawnhooks.ActionUmount && h.Action != nspawnhooks.ActionRemoveTree) {
				continue
			}
			if err := nspawnhooks.RunAction(h.Action, h.Args, nil); err != nil {
				fmt.Fprintf(os.Stderr, "hull: warning: undo %s: %v\n", h.Key, err)
			}
		}
	}
	if created {
		if err := nspawnhooks.RemoveTree(bundle); err != nil {
			fmt.Fprintf(os.Stderr, "hull: warning: bundle %s left behind: %v\n", bundle, err)
		}
	}
}

func conversionOptions(bundle, cgroupsPath string) (nspawnconv.Options, error) {
	self, err := os.Executable()
	if err != nil {
		return nspawnconv.Options{}, fmt.Errorf("hook path: %w", err)
	}
	bset, err := nspawnconv.HostBoundingSet()
	if err != nil {
		return nspawnconv.Options{}, err
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return nspawnconv.Options{}, fmt.Errorf("statfs /sys/fs/cgroup: %w", err)
	}
	rootless, err := rootlessIDs()
	if err != nil {
		return nspawnconv.Options{}, err
	}
	return nspawnconv.Options{
		Rootless:    rootless,
		BundleDir:   bundle,
		CgroupsPath: cgroupsPath,
		CgroupV2:    st.Type == unix.CGROUP2_SUPER_MAGIC,
		BoundingSet: bset,
		LookupEnv:   os.LookupEnv,
		HookPath:    self,
		Interactive: isTerminal(0),
	}, nil
}

// stubInitName is the static PID 1 for ProcessTwo= (cmd/hull-stubinit),
// installed beside the hull binary.
const stubInitName = "hull-stubinit"

// stubInitPath finds the stub init beside the running hull. The
// conversion copies it into the bundle; the container never sees this file.
func stubInitPath() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("ProcessTwo=/--as-pid2: locate %s: %w", stubInitName, err)
	}
	p, err := hullcmd.Beside(self, stubInitName)
	if err != nil {
		return "", fmt.Errorf("ProcessTwo=/--as-pid2: stub init: %w", err)
	}
	return p, nil
}

func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// writeBundle writes config.json and the pre-step record.
func writeBundle(bundle string, cv *nspawnconv.Conversion) error {
	data, err := json.MarshalIndent(cv.Spec, "", "\t")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bundle, oci.ConfigFile), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	steps, err := nspawnhooks.EncodePreSteps(cv.PreSteps)
	if err != nil {
		return err
	}
	// 0600: the steps carry --set-credential= values and password hashes.
	return writeFileMode(filepath.Join(bundle, nspawnhooks.PreStepsFile), steps, 0o600)
}

// portableVersion is the oldest ociVersion with every field a converted
// bundle uses: defaultErrnoRet (nspawn's ENOSYS default) and mount id maps
// are 1.1.0 fields; crun 1.8.1 refuses 1.3.0.
func portableVersion(*specs.Spec) string { return "1.1.0" }

// writeFileMode writes data and sets mode even on a file that existed
// (os.WriteFile keeps the old mode).
func writeFileMode(path string, data []byte, mode os.FileMode) error {
	if err := os.WriteFile(path, data, mode); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}
