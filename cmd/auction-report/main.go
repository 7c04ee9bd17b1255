// Command auction-report runs the auction simulation's scenarios and prints,
// per scenario, the coefficient of variation of memory per cell, placements
// per second and wait times; it writes the same table (report.txt) and a
// picture of the per-cell distribution (report.svg) into a folder.
//
//	go run ./cmd/auction-report [-out auction/simulation/report] [-large]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/diego-go/diego/auction/simulation"
)

func main() {
	out := flag.String("out", defaultOut(), "folder for report.svg and report.txt (the default is git-ignored)")
	large := flag.Bool("large", false, "also run 250,000 instances on 1,000 cells")
	flag.Parse()

	var results []simulation.Result
	var sums []simulation.Summary
	for _, scenario := range simulation.ReportScenarios(*large) {
		s := scenario()
		r := simulation.Run(s)
		results = append(results, r)
		sums = append(sums, simulation.Summarize(&s, &r))
	}

	var text bytes.Buffer
	simulation.WriteText(&text, sums)
	os.Stdout.Write(text.Bytes())

	if err := os.MkdirAll(*out, 0o755); err != nil {
		fail(err)
	}
	var svg bytes.Buffer
	simulation.WriteSVG(&svg, results, sums)
	for name, data := range map[string][]byte{"report.svg": svg.Bytes(), "report.txt": text.Bytes()} {
		if err := os.WriteFile(filepath.Join(*out, name), data, 0o644); err != nil {
			fail(err)
		}
	}
	fmt.Printf("\nwrote %s and %s\n", filepath.Join(*out, "report.svg"), filepath.Join(*out, "report.txt"))
}

// defaultOut is auction/simulation/report under the module root (found by
// walking up to go.mod), else under the working directory.
func defaultOut() string {
	dir, err := os.Getwd()
	if err != nil {
		return filepath.Join("auction", "simulation", "report")
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "auction", "simulation", "report")
		}
		if filepath.Dir(d) == d {
			return filepath.Join(dir, "auction", "simulation", "report")
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "auction-report:", err)
	os.Exit(1)
}
