package db

import "testing"

// BenchmarkActualLRPsByCell reads one cell's instances from a record cache holding Diego's target
// of 250,000 instances on 1,000 cells: through the index by cell, and, for comparison in the same
// run, with the pass over every record the index replaced.
//
//	go test -run '^$' -bench ActualLRPsByCell ./bbs/db/
func BenchmarkActualLRPsByCell(b *testing.B) {
	const instances, cells = 250_000, 1_000
	c := filledCache(instances, cells)
	f := ActualFilter{CellID: "cell-0007"}
	b.Run("index", func(b *testing.B) {
		for b.Loop() {
			if n := len(c.actuals(f)); n != instances/cells {
				b.Fatalf("%d instances, want %d", n, instances/cells)
			}
		}
	})
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			c.mu.RLock()
			n := 0
			for _, ca := range c.actual {
				if f.match(ca.lrp) {
					n++
				}
			}
			c.mu.RUnlock()
			if n != instances/cells {
				b.Fatalf("%d instances, want %d", n, instances/cells)
			}
		}
	})
}
