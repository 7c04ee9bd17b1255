package convergence_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/diego-go/diego/bbs/convergence"
	"github.com/diego-go/diego/models"
)

// benchSnapshot is a steady-state world with a little of everything: nDesired
// desired LRPs of `instances` instances on 100 cells (two of them vanished),
// about 1% of slots missing, 1% crashed, 1% unclaimed and stale, and
// nDesired/5 tasks.
func benchSnapshot(nDesired, instances int) convergence.Snapshot {
	s := convergence.Snapshot{Now: now, FreshDomains: convergence.Set("cf-apps", "cf-tasks"), Cells: map[string]struct{}{}}
	for c := range 98 {
		s.Cells[fmt.Sprintf("cell-%d", c)] = struct{}{}
	}
	ds := make([]*models.DesiredLRPSchedulingInfo, 0, nDesired)
	as := make([]*models.ActualLRP, 0, nDesired*instances)
	n := 0
	for d := range nDesired {
		guid := fmt.Sprintf("process-guid-%08d-0000-4000-8000-000000000000", d)
		ds = append(ds, &models.DesiredLRPSchedulingInfo{
			DesiredLrpKey:      &models.DesiredLRPKey{ProcessGuid: guid, Domain: "cf-apps", LogGuid: guid},
			Instances:          int32(instances),
			DesiredLrpResource: &models.DesiredLRPResource{MemoryMb: 256, DiskMb: 1024, RootFs: "preloaded:cflinuxfs4"},
		})
		for i := range instances {
			n++
			cell := fmt.Sprintf("cell-%d", n%100) // cell-98 and cell-99 vanished
			a := &models.ActualLRP{
				ActualLrpKey:         &models.ActualLRPKey{ProcessGuid: guid, Index: int32(i), Domain: "cf-apps"},
				ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: fmt.Sprintf("%s-%d", guid, i), CellId: cell},
				ActualLrpNetInfo:     &models.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: 61000}}},
				State:                models.ActualLRPStateRunning,
				Since:                ago(time.Hour),
				ModificationTag:      &models.ModificationTag{Epoch: guid, Index: 3},
			}
			switch n % 100 {
			case 17:
				continue // missing
			case 31:
				a.State, a.CrashCount, a.Since = models.ActualLRPStateCrashed, int32(n%6), ago(time.Minute)
			case 47:
				a.State, a.ActualLrpInstanceKey = models.ActualLRPStateUnclaimed, &models.ActualLRPInstanceKey{}
			}
			as = append(as, a)
		}
	}
	s = withLRPs(s, ds, as)
	for t := range nDesired / 5 {
		state := []models.Task_State{models.Task_Pending, models.Task_Running, models.Task_Running, models.Task_Completed}[t%4]
		s.Tasks = append(s.Tasks, &models.Task{
			TaskGuid: fmt.Sprintf("task-%d", t), Domain: "cf-tasks", State: state, CellId: fmt.Sprintf("cell-%d", t%100),
			CreatedAt: ago(time.Duration(t%40) * time.Minute), UpdatedAt: ago(time.Duration(t%90) * time.Second), FirstCompletedAt: ago(time.Duration(t%200) * time.Second),
			TaskDefinition: &models.TaskDefinition{CompletionCallbackUrl: "http://cc/callback"},
		})
	}
	return s
}

func benchmarkDecide(b *testing.B, nDesired, instances int) {
	s := benchSnapshot(nDesired, instances)
	cfg := convergence.DefaultConfig()
	var a convergence.Actions
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		a = convergence.Decide(s, cfg)
	}
	b.ReportMetric(float64(len(allActuals(s))), "actual-lrps")
	b.ReportMetric(float64(len(a.Auctions())), "auctions")
}

func BenchmarkDecide10kDesired1Instance(b *testing.B)  { benchmarkDecide(b, 10_000, 1) }
func BenchmarkDecide50kDesired1Instance(b *testing.B)  { benchmarkDecide(b, 50_000, 1) }
func BenchmarkDecide10kDesired4Instances(b *testing.B) { benchmarkDecide(b, 10_000, 4) }
func BenchmarkDecide50kDesired4Instances(b *testing.B) { benchmarkDecide(b, 50_000, 4) }
func BenchmarkDecide250kDesired1Instance(b *testing.B) { benchmarkDecide(b, 250_000, 1) }
