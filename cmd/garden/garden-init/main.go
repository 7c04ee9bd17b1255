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
	if code, ok := initproc.Run(os.Args[1:]); ok {
		os.Exit(code)
	}
	fmt.Fprintln(os.Stderr, "usage: garden-init init | exec | tar-in DEST | tar-out PATH")
	os.Exit(2)
}
