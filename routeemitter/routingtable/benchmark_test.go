package routingtable_test

import (
	"fmt"
	"testing"

	"github.com/diego-go/diego/models"
	rt "github.com/diego-go/diego/routeemitter/routingtable"
)

// snapshotOf is lrps LRPs of instances running instances each (one more desired), every one
// routed from two hostnames.
func snapshotOf(lrps, instances int) rt.Snapshot {
	s := rt.Snapshot{FreshDomains: []string{"cf-apps"}}
	for l := range lrps {
		g := fmt.Sprintf("pg-%d", l)
		d := desired(int32(instances)+1, 1, web(g+".example.com", g+".apps.internal"))
		d.ProcessGuid = g
		s.Desired = append(s.Desired, d)
		for i := range instances {
			a := running(int32(i), fmt.Sprintf("%s-%d", g, i))
			a.ActualLrpKey.ProcessGuid = g
			s.Actual = append(s.Actual, a)
		}
	}
	return s
}

// BenchmarkSyncUnchanged is a periodic full sync of 5000 LRPs x 4 instances (40000 routes) that
// finds nothing changed: the steady-state cost of sync_interval.
func BenchmarkSyncUnchanged(b *testing.B) {
	s := snapshotOf(5000, 4)
	table := rt.New()
	table.Sync(s, nil)
	b.ResetTimer()
	for b.Loop() {
		if m := table.Sync(s, nil); !m.Empty() {
			b.Fatal("an unchanged snapshot sent messages")
		}
	}
}

// BenchmarkEmit is one full registration of 40000 routes.
func BenchmarkEmit(b *testing.B) {
	table := rt.New()
	table.Sync(snapshotOf(5000, 4), nil)
	b.ResetTimer()
	for b.Loop() {
		if n := len(table.Emit().Registrations); n != 40000 {
			b.Fatalf("%d registrations", n)
		}
	}
}

// startAndCrash is a table of 40000 routes, and the events of one more instance of it starting,
// then crashing.
func startAndCrash() (*rt.Table, models.Event, models.Event) {
	table := rt.New()
	table.Sync(snapshotOf(5000, 4), nil)
	claimed := running(4, "new")
	claimed.ActualLrpKey.ProcessGuid = "pg-7"
	claimed.State = models.ActualLRPStateClaimed
	started := next(claimed, func(a *models.ActualLRP) { a.State = models.ActualLRPStateRunning })
	crashed := next(started, func(a *models.ActualLRP) { a.State = models.ActualLRPStateCrashed })
	return table, changed(claimed, started), changed(started, crashed)
}

// BenchmarkInstanceStarts is the event of one instance starting, in a table of 40000 routes.
func BenchmarkInstanceStarts(b *testing.B) {
	table, start, crash := startAndCrash()
	b.ResetTimer()
	for b.Loop() {
		table.Handle(start)
		table.Handle(crash)
	}
}

// BenchmarkEventWithGauges is what the emitter does for each BBS event, in a table of 40000
// routes: handle it, then read the two counts its gauges show.
func BenchmarkEventWithGauges(b *testing.B) {
	table, start, crash := startAndCrash()
	events := []models.Event{start, crash}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		table.Handle(events[i%2])
		if n := table.RouteCount(); n != 40000 && n != 40002 {
			b.Fatalf("%d routes", n)
		}
		_ = table.Size()
	}
}
