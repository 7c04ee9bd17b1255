// Command diego is the operator's command line for a Diego deployment: it reads and changes the
// BBS's records and asks the cells' reps for their state (see docs/diego.md).
package main

import (
	"os"

	"github.com/diego-go/diego/cmd/diego/commands"
)

func main() {
	os.Exit(commands.Execute(os.Args[1:], os.Stdout, os.Stderr))
}
