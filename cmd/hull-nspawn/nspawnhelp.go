package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hull-runtime/hull/nspawnconv"
)

// printNspawnHelp lists the systemd-nspawn flags hull takes, from the key
// table itself (so help and behaviour cannot drift), then those it refuses.
func printNspawnHelp(w io.Writer, cmd string) {
	fmt.Fprintf(w, "Usage: hull %s [systemd-nspawn flags] [--nspawn-file FILE] [--cgroups-path PATH]", cmd)
	if cmd == "convert" {
		fmt.Fprint(w, " --bundle OUT")
	}
	fmt.Fprint(w, " [-- command or init args]\n\n")
	fmt.Fprint(w, "hull's own options:\n  --nspawn-file FILE   settings file instead of the one nspawn would find\n")
	fmt.Fprint(w, "  --cgroups-path PATH  linux.cgroupsPath (default /machine.slice/machine-NAME.scope)\n")
	if cmd == "convert" {
		fmt.Fprint(w, "  --bundle OUT         directory to write the OCI bundle into\n")
	}
	fmt.Fprint(w, "\nsystemd-nspawn flags hull supports (.nspawn key in brackets):\n")
	var refused []string
	for _, k := range nspawnconv.Keys() {
		if len(k.Flags) == 0 {
			continue
		}
		spell := strings.Join(k.Flags, ", ") + k.ArgHelp()
		if k.Kind == nspawnconv.KindRefused {
			refused = append(refused, fmt.Sprintf("  %s\n      %s", spell, k.What))
			continue
		}
		key := ""
		if k.Key != "" {
			key = " [" + k.Section + "] " + k.Key + "="
		}
		fmt.Fprintf(w, "  %s%s\n      %s\n", spell, key, k.What)
	}
	fmt.Fprintf(w, "\nRefused (an error names them):\n%s\n", strings.Join(refused, "\n"))
}

// machineSearchPath is where nspawn looks for a machine's directory by
// name (systemd 252, machine images), in order.
var machineSearchPath = []string{"/etc/machines", "/run/machines", "/var/lib/machines",
	"/var/lib/container", "/usr/local/lib/machines", "/usr/lib/machines"}

// defaultDirectory is nspawn's root directory when neither -D nor -i is
// given: the directory named after the machine in the search path, or the
// current directory when no machine name is given either.
func defaultDirectory(machine string, search []string) (string, error) {
	if machine == "" {
		return os.Getwd()
	}
	for _, d := range search {
		p := filepath.Join(d, machine)
		st, err := os.Stat(p)
		if err == nil && st.IsDir() {
			return p, nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("machine %s: %w", machine, err)
		}
	}
	return "", fmt.Errorf("machine %s: no directory of that name in %s (give one with -D)", machine, strings.Join(search, ", "))
}
