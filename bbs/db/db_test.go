package db_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/models"
)

func allValues() map[string][]byte {
	resp, err := etcdCli.Get(ctx, "/v1/", clientv3.WithPrefix())
	Expect(err).NotTo(HaveOccurred())
	out := map[string][]byte{}
	for _, kv := range resp.Kvs {
		out[string(kv.Key)] = kv.Value
	}
	return out
}

var _ = Describe("the store reading etcd", func() { storeSpecs() })

var _ = Describe("the store with its record cache and group commit (as cmd/bbs runs it)", func() {
	BeforeEach(func() {
		store = db.New(etcdCli, keys, db.WithGroupCommit())
		DeferCleanup(store.Close)
		cctx, cancel := context.WithCancel(ctx)
		DeferCleanup(cancel)
		Expect(store.StartCache(cctx)).To(Succeed())
	})
	storeSpecs()

	It("reads its own writes at once", func() {
		for i := 0; i < 50; i++ {
			guid := fmt.Sprintf("ryw-%d", i)
			_, err := store.DesireLRP(ctx, newDesired(guid, 1))
			Expect(err).NotTo(HaveOccurred())
			_, _, err = store.ClaimActualLRP(ctx, guid, 0, &models.ActualLRPInstanceKey{InstanceGuid: "i", CellId: "c"})
			Expect(err).NotTo(HaveOccurred())
			as, err := store.ActualLRPs(ctx, db.ActualFilter{CellID: "c"})
			Expect(err).NotTo(HaveOccurred())
			Expect(as).To(HaveLen(i + 1))
			s, err := store.DesiredLRPSchedulingInfos(ctx, db.DesiredFilter{})
			Expect(err).NotTo(HaveOccurred())
			Expect(s).To(HaveLen(i + 1))
		}
	})

	It("stops serving a record replaced by one it cannot open, as a read from etcd skips it", func() {
		_, err := store.DesireLRP(ctx, newDesired("opaque", 1))
		Expect(err).NotTo(HaveOccurred())
		Expect(store.ActualLRPs(ctx, db.ActualFilter{ProcessGuid: "opaque"})).To(HaveLen(1))
		foreign, err := db.NewKeyring(map[string]string{"k2": "other passphrase"}, "k2")
		Expect(err).NotTo(HaveOccurred())
		b, err := proto.Marshal(db.NewUnclaimed("opaque", 0, "d", 1))
		Expect(err).NotTo(HaveOccurred())
		_, err = etcdCli.Put(ctx, db.ActualPrefix+"opaque/0/0", string(foreign.Seal(db.ActualPrefix+"opaque/0/0", b)))
		Expect(err).NotTo(HaveOccurred())
		Expect(db.New(etcdCli, keys).ActualLRPs(ctx, db.ActualFilter{ProcessGuid: "opaque"})).To(BeEmpty())
		Eventually(func() ([]*models.ActualLRP, error) {
			return store.ActualLRPs(ctx, db.ActualFilter{ProcessGuid: "opaque"})
		}).Should(BeEmpty())
	})

	It("sees writes of another process", func() {
		other := db.New(etcdCli, keys)
		_, err := other.DesireLRP(ctx, newDesired("elsewhere", 2))
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() ([]*models.ActualLRP, error) { return store.ActualLRPs(ctx, db.ActualFilter{}) }).Should(HaveLen(2))
		_, err = other.RemoveActualLRP(ctx, "elsewhere", 1, nil)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() ([]*models.ActualLRP, error) { return store.ActualLRPs(ctx, db.ActualFilter{}) }).Should(HaveLen(1))
		// a claim decided on a stale cached record is re-decided on etcd's record
		_, _, err = other.ClaimActualLRP(ctx, "elsewhere", 0, &models.ActualLRPInstanceKey{InstanceGuid: "a", CellId: "c"})
		Expect(err).NotTo(HaveOccurred())
		_, _, err = store.ClaimActualLRP(ctx, "elsewhere", 0, &models.ActualLRPInstanceKey{InstanceGuid: "b", CellId: "c"})
		Expect(errors.Is(err, models.ErrActualLRPCannotBeClaimed)).To(BeTrue())
	})
})

func storeSpecs() {
	unmodeledFieldSpecs()

	Describe("records at rest", func() {
		It("contain no plaintext guid, env or command", func() {
			_, err := store.DesireLRP(ctx, newDesired("plaintext-process-guid", 2))
			Expect(err).NotTo(HaveOccurred())
			_, err = store.DesireTask(ctx, &models.TaskDefinition{
				RootFs:               "docker:///busybox",
				EnvironmentVariables: []*models.EnvironmentVariable{{Name: "SECRET_ENV", Value: "super-secret-env-value"}},
				Action:               &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/secret-command", User: "root"}}},
			}, "plaintext-task-guid", "domain")
			Expect(err).NotTo(HaveOccurred())
			_, _, err = store.ClaimActualLRP(ctx, "plaintext-process-guid", 0, &models.ActualLRPInstanceKey{InstanceGuid: "plaintext-instance-guid", CellId: "cell-1"})
			Expect(err).NotTo(HaveOccurred())

			vals := allValues()
			Expect(len(vals)).To(BeNumerically(">=", 5))
			for k, v := range vals {
				for _, secret := range []string{"plaintext-process-guid", "plaintext-task-guid", "plaintext-instance-guid", "super-secret-env-value", "/bin/secret-command", "SECRET_ENV", "log-plaintext"} {
					Expect(bytes.Contains(v, []byte(secret))).To(BeFalse(), "value of %s contains %q", k, secret)
				}
				if len(v) > 0 {
					Expect(v[0]).To(Equal(db.FormatKeyBound), k)
					label, ok := db.Label(v)
					Expect(ok).To(BeTrue())
					Expect(label).To(Equal("k1"))
				}
			}
		})

		It("refuses records under an unknown key", func() {
			_, err := store.DesireTask(ctx, &models.TaskDefinition{RootFs: "docker:///busybox"}, "t1", "d")
			Expect(err).NotTo(HaveOccurred())
			other, err := db.NewKeyring(map[string]string{"k2": "other"}, "k2")
			Expect(err).NotTo(HaveOccurred())
			_, err = db.New(etcdCli, other).TaskByGuid(ctx, "t1")
			Expect(errors.Is(err, &models.Error{Type: models.Error_FailedToOpenEnvelope})).To(BeTrue(), "%v", err)
		})
	})

	Describe("key rotation", func() {
		It("re-encrypts every record under the active key and leaves all readable", func() {
			for i := 0; i < 20; i++ {
				_, err := store.DesireLRP(ctx, newDesired(fmt.Sprintf("guid-%d", i), 3))
				Expect(err).NotTo(HaveOccurred())
				_, err = store.DesireTask(ctx, &models.TaskDefinition{RootFs: "docker:///busybox"}, fmt.Sprintf("task-%d", i), "d")
				Expect(err).NotTo(HaveOccurred())
			}
			_, _, err := store.ClaimActualLRP(ctx, "guid-0", 1, &models.ActualLRPInstanceKey{InstanceGuid: "i", CellId: "c"})
			Expect(err).NotTo(HaveOccurred())

			both, err := db.NewKeyring(map[string]string{"k1": "first passphrase", "k2": "second passphrase"}, "k2")
			Expect(err).NotTo(HaveOccurred())
			rotated := db.New(etcdCli, both)
			n, err := rotated.RotateKeys(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(n).To(Equal(20*2 + 20*3 + 20))

			for k, v := range allValues() {
				if label, ok := db.Label(v); ok {
					Expect(label).To(Equal("k2"), k)
				}
			}
			n, err = rotated.RotateKeys(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(n).To(BeZero())

			onlyNew, err := db.NewKeyring(map[string]string{"k2": "second passphrase"}, "k2")
			Expect(err).NotTo(HaveOccurred())
			reader := db.New(etcdCli, onlyNew)
			ds, err := reader.DesiredLRPs(ctx, db.DesiredFilter{})
			Expect(err).NotTo(HaveOccurred())
			Expect(ds).To(HaveLen(20))
			Expect(ds[0].GetEnvironmentVariables()).To(HaveLen(1))
			as, err := reader.ActualLRPs(ctx, db.ActualFilter{})
			Expect(err).NotTo(HaveOccurred())
			Expect(as).To(HaveLen(60))
			ts, err := reader.Tasks(ctx, db.TaskFilter{})
			Expect(err).NotTo(HaveOccurred())
			Expect(ts).To(HaveLen(20))
			onCell, err := reader.ActualLRPs(ctx, db.ActualFilter{CellID: "c"})
			Expect(err).NotTo(HaveOccurred())
			Expect(onCell).To(HaveLen(1))
		})
	})

	Describe("schema migration", func() {
		It("stamps the current version and refuses a newer store", func() {
			v, _, err := store.SchemaVersion(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(v).To(Equal(0))
			Expect(store.Migrate(ctx)).To(Succeed())
			v, _, err = store.SchemaVersion(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(v).To(Equal(db.CurrentSchemaVersion))
			Expect(store.Migrate(ctx)).To(Succeed())

			_, err = etcdCli.Put(ctx, db.SchemaVersionKey, "99")
			Expect(err).NotTo(HaveOccurred())
			Expect(store.Migrate(ctx)).To(MatchError(ContainSubstring("newer")))
		})
	})

	Describe("desired LRPs", func() {
		It("stores them split and joins them back", func() {
			d := newDesired("split", 2)
			d.VolumeMounts = []*models.VolumeMount{{Driver: "nfs", ContainerDir: "/data", Mode: "rw"}}
			d.MetricTags = map[string]*models.MetricTagValue{"app": {Static: "x"}}
			_, err := store.DesireLRP(ctx, d)
			Expect(err).NotTo(HaveOccurred())
			got, err := store.DesiredLRPByProcessGuid(ctx, "split")
			Expect(err).NotTo(HaveOccurred())
			Expect(got.GetEnvironmentVariables()).To(HaveLen(1))
			Expect(got.GetVolumeMounts()[0].GetContainerDir()).To(Equal("/data"))
			Expect(got.GetModificationTag().GetEpoch()).NotTo(BeEmpty())
			s, err := store.DesiredLRPSchedulingInfos(ctx, db.DesiredFilter{})
			Expect(err).NotTo(HaveOccurred())
			Expect(s).To(HaveLen(1))
			Expect(s[0].GetVolumePlacement().GetDriverNames()).To(Equal([]string{"nfs"}))
			r, err := store.DesiredLRPRoutingInfos(ctx, db.DesiredFilter{ProcessGuids: []string{"split"}})
			Expect(err).NotTo(HaveOccurred())
			Expect(r[0].GetMetricTags()).To(HaveKey("app"))
			Expect(r[0].GetRoutes().GetRoutes()).To(HaveKey("cf-router"))
		})

		It("refuses a second desire of the same guid and writes nothing", func() {
			_, err := store.DesireLRP(ctx, newDesired("dup", 1))
			Expect(err).NotTo(HaveOccurred())
			before := allValues()
			_, err = store.DesireLRP(ctx, newDesired("dup", 5))
			Expect(errors.Is(err, models.ErrResourceExists)).To(BeTrue())
			Expect(allValues()).To(HaveLen(len(before)))
		})

		It("creates every instance even beyond one transaction's room", func() {
			created, err := store.DesireLRP(ctx, newDesired("big", 300))
			Expect(err).NotTo(HaveOccurred())
			Expect(created).To(HaveLen(300))
			as, err := store.ActualLRPs(ctx, db.ActualFilter{ProcessGuid: "big"})
			Expect(err).NotTo(HaveOccurred())
			Expect(as).To(HaveLen(300))
		})

		It("updates instances, routes and annotation with a new modification index", func() {
			_, err := store.DesireLRP(ctx, newDesired("upd", 1))
			Expect(err).NotTo(HaveOccurred())
			n := int32(3)
			ann := "new"
			before, after, created, err := store.UpdateDesiredLRP(ctx, "upd", &models.DesiredLRPUpdate{Instances: &n, Annotation: &ann})
			Expect(err).NotTo(HaveOccurred())
			Expect(before.GetInstances()).To(Equal(int32(1)))
			Expect(after.GetInstances()).To(Equal(int32(3)))
			Expect(after.GetModificationTag().GetIndex()).To(Equal(uint32(1)))
			Expect(created).To(HaveLen(2))
			got, err := store.DesiredLRPByProcessGuid(ctx, "upd")
			Expect(err).NotTo(HaveOccurred())
			Expect(got.GetAnnotation()).To(Equal("new"))
		})
	})

	Describe("concurrent writers", func() {
		It("each get their own answer when their changes share a transaction", func() {
			var ok, exists atomic.Int32
			var wg sync.WaitGroup
			for i := 0; i < 120; i++ {
				wg.Add(1)
				go func() {
					defer GinkgoRecover()
					defer wg.Done()
					_, err := store.DesireLRP(ctx, newDesired(fmt.Sprintf("many-%d", i%100), 2))
					switch {
					case err == nil:
						ok.Add(1)
					case errors.Is(err, models.ErrResourceExists):
						exists.Add(1)
					default:
						Fail(err.Error())
					}
				}()
			}
			wg.Wait()
			Expect(ok.Load()).To(Equal(int32(100)))
			Expect(exists.Load()).To(Equal(int32(20)))
			ds, err := store.DesiredLRPs(ctx, db.DesiredFilter{})
			Expect(err).NotTo(HaveOccurred())
			Expect(ds).To(HaveLen(100))
			as, err := store.ActualLRPs(ctx, db.ActualFilter{})
			Expect(err).NotTo(HaveOccurred())
			Expect(as).To(HaveLen(200))
		})
	})

	Describe("claiming an instance", func() {
		It("lets exactly one of 100 concurrent claims win", func() {
			_, err := store.DesireLRP(ctx, newDesired("contended", 1))
			Expect(err).NotTo(HaveOccurred())
			var wins, losses atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := 0; i < 100; i++ {
				wg.Add(1)
				go func() {
					defer GinkgoRecover()
					defer wg.Done()
					<-start
					_, _, err := store.ClaimActualLRP(ctx, "contended", 0, &models.ActualLRPInstanceKey{InstanceGuid: fmt.Sprintf("ig-%d", i), CellId: fmt.Sprintf("cell-%d", i)})
					if err == nil {
						wins.Add(1)
					} else {
						Expect(errors.Is(err, models.ErrActualLRPCannotBeClaimed)).To(BeTrue(), "%v", err)
						losses.Add(1)
					}
				}()
			}
			close(start)
			wg.Wait()
			Expect(wins.Load()).To(Equal(int32(1)))
			Expect(losses.Load()).To(Equal(int32(99)))
			a, err := store.ActualLRP(ctx, "contended", 0, models.ActualLRP_ORDINARY)
			Expect(err).NotTo(HaveOccurred())
			Expect(a.GetState()).To(Equal(models.ActualLRPStateClaimed))
			onCell, err := store.ActualLRPs(ctx, db.ActualFilter{CellID: a.GetActualLrpInstanceKey().GetCellId()})
			Expect(err).NotTo(HaveOccurred())
			Expect(onCell).To(HaveLen(1))
		})
	})

	Describe("changing a record only if it is still the one read", func() {
		It("swaps a copy of it with the next modification tag, and leaves a record changed since", func() {
			_, err := store.DesireLRP(ctx, newDesired("cas", 1))
			Expect(err).NotTo(HaveOccurred())
			read, err := store.ActualLRP(ctx, "cas", 0, models.ActualLRP_ORDINARY)
			Expect(err).NotTo(HaveOccurred())
			before, after, ok, err := store.SwapIfUnchanged(ctx, read, func(n *models.ActualLRP) { n.PlacementError = "full" })
			Expect(err).NotTo(HaveOccurred())
			Expect(ok).To(BeTrue())
			Expect(before.GetModificationTag()).To(Equal(read.GetModificationTag()))
			Expect(after.GetModificationTag().GetIndex()).To(Equal(read.GetModificationTag().GetIndex() + 1))
			Expect(read.GetPlacementError()).To(BeEmpty()) // the caller's record is not touched
			stored, err := store.ActualLRP(ctx, "cas", 0, models.ActualLRP_ORDINARY)
			Expect(err).NotTo(HaveOccurred())
			Expect(stored.GetPlacementError()).To(Equal("full"))

			_, _, ok, err = store.SwapIfUnchanged(ctx, read, func(n *models.ActualLRP) { n.PlacementError = "stale" })
			Expect(err).NotTo(HaveOccurred())
			Expect(ok).To(BeFalse())
			removed, err := store.RemoveIfUnchanged(ctx, read)
			Expect(err).NotTo(HaveOccurred())
			Expect(removed).To(BeFalse())
			stored, err = store.ActualLRP(ctx, "cas", 0, models.ActualLRP_ORDINARY)
			Expect(err).NotTo(HaveOccurred())
			Expect(stored.GetPlacementError()).To(Equal("full"))
		})
	})

	Describe("the instance lifecycle", func() {
		key := &models.ActualLRPKey{ProcessGuid: "life", Index: 0, Domain: "cf-apps"}
		ik := &models.ActualLRPInstanceKey{InstanceGuid: "ig", CellId: "cell-a"}

		BeforeEach(func() {
			_, err := store.DesireLRP(ctx, newDesired("life", 1))
			Expect(err).NotTo(HaveOccurred())
		})

		It("claims, starts, crashes and lists by cell", func() {
			_, _, err := store.ClaimActualLRP(ctx, "life", 0, ik)
			Expect(err).NotTo(HaveOccurred())
			_, after, _, err := store.StartActualLRP(ctx, db.StartRequest{Key: key, InstanceKey: ik, NetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.1"}})
			Expect(err).NotTo(HaveOccurred())
			Expect(after.GetState()).To(Equal(models.ActualLRPStateRunning))
			Expect(after.GetModificationTag().GetIndex()).To(Equal(uint32(2)))

			_, _, _, err = store.StartActualLRP(ctx, db.StartRequest{Key: key, InstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: "other", CellId: "cell-b"}, NetInfo: &models.ActualLRPNetInfo{Address: "x"}})
			Expect(errors.Is(err, models.ErrActualLRPCannotBeStarted)).To(BeTrue())

			_, crashed, restart, err := store.CrashActualLRP(ctx, key, ik, "boom")
			Expect(err).NotTo(HaveOccurred())
			Expect(restart).To(BeTrue())
			Expect(crashed.GetState()).To(Equal(models.ActualLRPStateUnclaimed))
			Expect(crashed.GetCrashCount()).To(Equal(int32(1)))
			onCell, err := store.ActualLRPs(ctx, db.ActualFilter{CellID: "cell-a"})
			Expect(err).NotTo(HaveOccurred())
			Expect(onCell).To(BeEmpty())

			_, failed, err := store.FailActualLRP(ctx, key, "no room")
			Expect(err).NotTo(HaveOccurred())
			Expect(failed.GetPlacementError()).To(Equal("no room"))
		})

		It("refuses to claim or start a CRASHED instance until the BBS unclaims it", func() {
			backoff := db.New(etcdCli, keys, db.WithRestartPolicy(models.RestartPolicy{
				ImmediateRestarts: 0, MinBackoff: time.Hour, MaxBackoff: time.Hour, MaxRestarts: 10, CrashResetAfter: time.Hour,
			}))
			_, _, err := store.ClaimActualLRP(ctx, "life", 0, ik)
			Expect(err).NotTo(HaveOccurred())
			_, crashed, restart, err := backoff.CrashActualLRP(ctx, key, ik, "exit 1")
			Expect(err).NotTo(HaveOccurred())
			Expect(restart).To(BeFalse())
			Expect(crashed.GetState()).To(Equal(models.ActualLRPStateCrashed))

			other := &models.ActualLRPInstanceKey{InstanceGuid: "ig2", CellId: "cell-b"}
			for _, k := range []*models.ActualLRPInstanceKey{ik, other, {}} {
				_, _, err = store.ClaimActualLRP(ctx, "life", 0, k)
				Expect(errors.Is(err, models.ErrActualLRPCannotBeClaimed)).To(BeTrue(), "claim by %v: %v", k, err)
				_, _, _, err = store.StartActualLRP(ctx, db.StartRequest{Key: key, InstanceKey: k, NetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.2"}})
				Expect(errors.Is(err, models.ErrActualLRPCannotBeStarted)).To(BeTrue(), "start by %v: %v", k, err)
			}
			a, err := store.ActualLRP(ctx, "life", 0, models.ActualLRP_ORDINARY)
			Expect(err).NotTo(HaveOccurred())
			Expect(proto.Equal(a, crashed)).To(BeTrue(), "the CRASHED record changed: %v", a)

			// the BBS's restart: unclaim (then auction); a cell may claim and start it again
			_, unclaimed, err := store.UnclaimActualLRP(ctx, key, nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(unclaimed.GetState()).To(Equal(models.ActualLRPStateUnclaimed))
			Expect(unclaimed.GetCrashCount()).To(Equal(int32(1)))
			_, _, err = store.ClaimActualLRP(ctx, "life", 0, other)
			Expect(err).NotTo(HaveOccurred())
			_, running, _, err := store.StartActualLRP(ctx, db.StartRequest{Key: key, InstanceKey: other, NetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.2"}})
			Expect(err).NotTo(HaveOccurred())
			Expect(running.GetState()).To(Equal(models.ActualLRPStateRunning))
			Expect(running.GetCrashCount()).To(Equal(int32(1)))
		})

		It("stores routable as true or false, and a start that only changes routable, routes or tags", func() {
			a, err := store.ActualLRP(ctx, "life", 0, models.ActualLRP_ORDINARY)
			Expect(err).NotTo(HaveOccurred())
			Expect(a.Routable).NotTo(BeNil(), "a new UNCLAIMED record says routable=false")
			Expect(a.GetRoutable()).To(BeFalse())

			net := &models.ActualLRPNetInfo{Address: "10.0.0.1"}
			_, first, _, err := store.StartActualLRP(ctx, db.StartRequest{Key: key, InstanceKey: ik, NetInfo: net})
			Expect(err).NotTo(HaveOccurred())
			Expect(first.Routable).NotTo(BeNil())
			Expect(first.GetRoutable()).To(BeFalse())
			// the readiness check passed: the same container, now routable, with routes and tags
			routes := []*models.ActualLRPInternalRoute{{Hostname: "app.apps.internal"}}
			_, ready, _, err := store.StartActualLRP(ctx, db.StartRequest{Key: key, InstanceKey: ik, NetInfo: net, Routable: true, InternalRoutes: routes, MetricTags: map[string]string{"app": "w"}})
			Expect(err).NotTo(HaveOccurred())
			Expect(ready).NotTo(BeNil(), "the change was dropped as a repeat")
			Expect(ready.GetRoutable()).To(BeTrue())
			Expect(ready.GetActualLrpInternalRoutes()[0].GetHostname()).To(Equal("app.apps.internal"))
			Expect(ready.GetMetricTags()).To(Equal(map[string]string{"app": "w"}))
			_, again, _, err := store.StartActualLRP(ctx, db.StartRequest{Key: key, InstanceKey: ik, NetInfo: net, Routable: true, InternalRoutes: routes, MetricTags: map[string]string{"app": "w"}})
			Expect(err).NotTo(HaveOccurred())
			Expect(again).To(BeNil(), "a repeat changes nothing")
		})

		It("lets the cell running an instance claim it again (its container restarting), as upstream, and no other", func() {
			_, _, _, err := store.StartActualLRP(ctx, db.StartRequest{Key: key, InstanceKey: ik, NetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.1"}, Routable: true})
			Expect(err).NotTo(HaveOccurred())
			_, _, err = store.ClaimActualLRP(ctx, "life", 0, &models.ActualLRPInstanceKey{InstanceGuid: "other", CellId: "cell-b"})
			Expect(errors.Is(err, models.ErrActualLRPCannotBeClaimed)).To(BeTrue(), "%v", err)
			_, claimed, err := store.ClaimActualLRP(ctx, "life", 0, ik)
			Expect(err).NotTo(HaveOccurred())
			Expect(claimed.GetState()).To(Equal(models.ActualLRPStateClaimed))
			Expect(claimed.GetActualLrpNetInfo()).To(BeNil(), "a claimed container has no address yet")
		})

		It("gives the evacuating copy what the evacuating cell reports (routes, tags, routable, zone)", func() {
			_, _, _, err := store.StartActualLRP(ctx, db.StartRequest{Key: key, InstanceKey: ik, NetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.1"}})
			Expect(err).NotTo(HaveOccurred())
			cur, ch, keep, err := store.EvacuateRunning(ctx, db.StartRequest{Key: key, InstanceKey: ik, NetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.1"},
				InternalRoutes: []*models.ActualLRPInternalRoute{{Hostname: "h"}}, MetricTags: map[string]string{"k": "v"}, Routable: true, AvailabilityZone: "z2"})
			Expect(err).NotTo(HaveOccurred())
			Expect(keep).To(BeTrue())
			Expect(cur).NotTo(BeEmpty())
			var evac *models.ActualLRP
			for _, p := range ch.Put {
				if p.GetPresence() == models.ActualLRP_EVACUATING {
					evac = p
				}
			}
			Expect(evac).NotTo(BeNil())
			Expect(evac.GetActualLrpInternalRoutes()[0].GetHostname()).To(Equal("h"))
			Expect(evac.GetMetricTags()).To(Equal(map[string]string{"k": "v"}))
			Expect(evac.GetRoutable()).To(BeTrue())
			Expect(evac.GetAvailabilityZone()).To(Equal("z2"))
		})

		It("keeps an evacuating copy while the slot is replaced", func() {
			_, _, err := store.ClaimActualLRP(ctx, "life", 0, ik)
			Expect(err).NotTo(HaveOccurred())
			_, _, _, err = store.StartActualLRP(ctx, db.StartRequest{Key: key, InstanceKey: ik, NetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.1"}})
			Expect(err).NotTo(HaveOccurred())
			_, _, keep, err := store.EvacuateRunning(ctx, db.StartRequest{Key: key, InstanceKey: ik, NetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.1"}})
			Expect(err).NotTo(HaveOccurred())
			Expect(keep).To(BeTrue())
			all, err := store.ActualLRPs(ctx, db.ActualFilter{ProcessGuid: "life"})
			Expect(err).NotTo(HaveOccurred())
			Expect(all).To(HaveLen(2))

			ik2 := &models.ActualLRPInstanceKey{InstanceGuid: "ig2", CellId: "cell-b"}
			_, _, err = store.ClaimActualLRP(ctx, "life", 0, ik2)
			Expect(err).NotTo(HaveOccurred())
			_, _, _, err = store.StartActualLRP(ctx, db.StartRequest{Key: key, InstanceKey: ik2, NetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.2"}})
			Expect(err).NotTo(HaveOccurred())
			_, _, keep, err = store.EvacuateRunning(ctx, db.StartRequest{Key: key, InstanceKey: ik, NetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.1"}})
			Expect(err).NotTo(HaveOccurred())
			Expect(keep).To(BeFalse())
			all, err = store.ActualLRPs(ctx, db.ActualFilter{ProcessGuid: "life"})
			Expect(err).NotTo(HaveOccurred())
			Expect(all).To(HaveLen(1))
		})
	})

	Describe("tasks", func() {
		It("lets exactly one of 50 concurrent starts get should_start", func() {
			_, err := store.DesireTask(ctx, &models.TaskDefinition{RootFs: "docker:///busybox"}, "race", "d")
			Expect(err).NotTo(HaveOccurred())
			var should, errs atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := 0; i < 50; i++ {
				wg.Add(1)
				go func() {
					defer GinkgoRecover()
					defer wg.Done()
					<-start
					cell := "cell-a"
					if i%2 == 1 {
						cell = fmt.Sprintf("cell-%d", i)
					}
					_, _, ok, err := store.StartTask(ctx, "race", cell)
					if err != nil {
						errs.Add(1)
					}
					if ok {
						should.Add(1)
					}
				}()
			}
			close(start)
			wg.Wait()
			Expect(should.Load()).To(Equal(int32(1)))
			t, err := store.TaskByGuid(ctx, "race")
			Expect(err).NotTo(HaveOccurred())
			Expect(t.GetState()).To(Equal(models.Task_Running))
		})

		It("walks pending -> running -> completed -> resolving -> deleted", func() {
			_, err := store.DesireTask(ctx, &models.TaskDefinition{RootFs: "docker:///busybox"}, "walk", "d")
			Expect(err).NotTo(HaveOccurred())
			_, _, ok, err := store.StartTask(ctx, "walk", "c")
			Expect(err).NotTo(HaveOccurred())
			Expect(ok).To(BeTrue())
			_, _, err = store.CompleteTask(ctx, "walk", "other-cell", false, "", "r")
			Expect(errors.Is(err, &models.Error{Type: models.Error_RunningOnDifferentCell})).To(BeTrue())
			_, after, err := store.CompleteTask(ctx, "walk", "c", false, "", "result")
			Expect(err).NotTo(HaveOccurred())
			Expect(after.GetResult()).To(Equal("result"))
			_, err = store.DeleteTask(ctx, "walk")
			Expect(errors.Is(err, &models.Error{Type: models.Error_InvalidStateTransition})).To(BeTrue())
			_, _, err = store.ResolvingTask(ctx, "walk")
			Expect(err).NotTo(HaveOccurred())
			_, err = store.DeleteTask(ctx, "walk")
			Expect(err).NotTo(HaveOccurred())
			_, err = store.TaskByGuid(ctx, "walk")
			Expect(errors.Is(err, models.ErrResourceNotFound)).To(BeTrue())
		})
	})

	Describe("domains", func() {
		It("expire after their TTL", func() {
			Expect(store.UpsertDomain(ctx, "short", 1)).To(Succeed())
			Expect(store.UpsertDomain(ctx, "forever", 0)).To(Succeed())
			Expect(store.Domains(ctx)).To(ConsistOf("short", "forever"))
			Eventually(func() ([]string, error) { return store.Domains(ctx) }, "4s", "100ms").Should(ConsistOf("forever"))
		})
	})

	Describe("an etcd restart", func() {
		It("loses nothing", func() {
			_, err := store.DesireLRP(ctx, newDesired("durable", 2))
			Expect(err).NotTo(HaveOccurred())
			_, err = store.DesireTask(ctx, &models.TaskDefinition{RootFs: "docker:///busybox"}, "durable-task", "d")
			Expect(err).NotTo(HaveOccurred())
			// a crash (kill -9) and a start: a graceful stop waits for open watch streams
			Expect(etcd.Kill()).To(Succeed())
			Expect(etcd.Restart()).To(Succeed())
			Eventually(func() error { _, err := store.DesiredLRPByProcessGuid(ctx, "durable"); return err }, "10s", "100ms").Should(Succeed())
			as, err := store.ActualLRPs(ctx, db.ActualFilter{})
			Expect(err).NotTo(HaveOccurred())
			Expect(as).To(HaveLen(2))
			_, err = store.TaskByGuid(ctx, "durable-task")
			Expect(err).NotTo(HaveOccurred())
			_, err = store.DesireLRP(ctx, newDesired("after-restart", 1))
			Expect(err).NotTo(HaveOccurred())
			Eventually(func() ([]*models.ActualLRP, error) { return store.ActualLRPs(ctx, db.ActualFilter{}) }, "5s").Should(HaveLen(3))
		})
	})
}

var _ = Describe("closing a store with group commit", func() {
	It("stops its goroutines, answers every change and refuses later ones", func() {
		runtime.GC()
		before := runtime.NumGoroutine()
		for round := 0; round < 3; round++ {
			s := db.New(etcdCli, keys, db.WithGroupCommit())
			var wg sync.WaitGroup
			var wrote, refused atomic.Int32
			start := make(chan struct{})
			for i := 0; i < 200; i++ {
				wg.Add(1)
				go func() {
					defer GinkgoRecover()
					defer wg.Done()
					<-start
					guid := fmt.Sprintf("close-%d-%d", round, i)
					_, err := s.DesireTask(ctx, &models.TaskDefinition{RootFs: "docker:///busybox"}, guid, "d")
					_, readErr := s.TaskByGuid(ctx, guid)
					if err == nil {
						Expect(readErr).NotTo(HaveOccurred())
						wrote.Add(1)
					} else {
						Expect(errors.Is(err, db.ErrClosed)).To(BeTrue(), "%v", err)
						Expect(errors.Is(readErr, models.ErrResourceNotFound)).To(BeTrue(), "a refused change was written: %v", readErr)
						refused.Add(1)
					}
				}()
			}
			close(start)
			time.Sleep(time.Duration(round) * 2 * time.Millisecond)
			closed := make(chan struct{})
			go func() { s.Close(); s.Close(); close(closed) }()
			Eventually(closed, "10s").Should(BeClosed())
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			Eventually(done, "10s").Should(BeClosed(), "a change is still waiting after Close")
			Expect(wrote.Load() + refused.Load()).To(Equal(int32(200)))
			_, err := s.DesireTask(ctx, &models.TaskDefinition{RootFs: "docker:///busybox"}, fmt.Sprintf("late-%d", round), "d")
			Expect(errors.Is(err, db.ErrClosed)).To(BeTrue(), "%v", err)
			Expect(s.Tasks(ctx, db.TaskFilter{})).NotTo(BeNil()) // reads still work
		}
		Eventually(func() int { return runtime.NumGoroutine() }, "5s").Should(BeNumerically("<=", before),
			func() string { b := make([]byte, 1<<20); return string(b[:runtime.Stack(b, true)]) })
	})
})
