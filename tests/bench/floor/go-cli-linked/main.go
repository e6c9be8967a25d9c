// Command go-cli-linked is one of the floor case's probes
// (tests/bench/floor.go): go-cli with the library linked and its App
// built but never run. Its peak RSS against go-cli's says whether
// parsing a hot command line by hand, with urfave/cli still in the
// binary for the rest, would lower hull's floor.
package main

import (
	"os"

	"github.com/urfave/cli/v2"

	_ "runtime/cgo" // linked as hull is: the C start and cgo's runtime
)

func main() {
	app := &cli.App{Name: "go-cli-linked", Commands: []*cli.Command{{Name: "run"}}}
	if len(os.Args) > 1 && os.Args[1] == "--really-run" { // never, in the bench
		_ = app.Run(os.Args[1:])
	}
}
