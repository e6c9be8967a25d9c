// Command demo makes a bundle around the busybox rootfs and runs it with
// hull, showing that the container is isolated: its own hostname, its own
// PID 1, its own mounts.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/hull-runtime/hull/oci"
)

const script = `echo "hostname:   $(hostname)"
echo "PID 1 is:   $(cat /proc/1/comm) (pid $$ is me)"
echo "processes:  $(ls -d /proc/[0-9]* | wc -l) visible"
echo "user:       $(id)"
echo "mounts:"
sed 's/^/  /' /proc/self/mounts`

func main() {
	hull := flag.String("hull", "_build/hull", "hull binary")
	rootfs := flag.String("rootfs", "_build/rootfs/busybox", "rootfs directory")
	dir := flag.String("bundle", "_build/demo", "bundle directory to create")
	flag.Parse()
	if err := run(*hull, *rootfs, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(hull, rootfs, dir string) error {
	root, err := filepath.Abs(rootfs)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	spec := oci.DefaultSpec()
	spec.Root.Path = root
	spec.Process.Terminal = false
	spec.Process.Args = []string{"sh", "-c", script}
	spec.Hostname = "hull-demo"
	spec.Linux.CgroupsPath = "/hull-demo"
	data, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, oci.ConfigFile), data, 0o644); err != nil {
		return err
	}
	fmt.Printf("$ %s run --bundle %s demo\n", hull, dir)
	cmd := exec.Command(hull, "run", "--bundle", dir, fmt.Sprintf("demo-%d", os.Getpid()))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}
