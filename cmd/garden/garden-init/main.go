// Command garden-init is the small static binary the garden server uses as every container's
// init ("garden-init init", bind-mounted at /.diego-garden/init), which starts the server's
// processes and records their exits, and as the exec helper inside containers ("garden-init
// exec"). It
// imports little so that it starts fast; build it with CGO_ENABLED=0 next to the garden binary.
package main

import (
	"fmt"
	"os"

	"github.com/diego-go/diego/gardenrunc/initproc"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "init":
			os.Exit(initproc.RunInit())
		case "exec":
			os.Exit(initproc.RunExecHelper())
		case "tar-in":
			os.Exit(initproc.RunTarIn(os.Args[2:]))
		case "tar-out":
			os.Exit(initproc.RunTarOut(os.Args[2:]))
		}
	}
	fmt.Fprintln(os.Stderr, "usage: garden-init init | exec | tar-in DEST | tar-out PATH")
	os.Exit(2)
}
