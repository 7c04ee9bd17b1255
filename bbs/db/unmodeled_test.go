package db_test

import (
	"bytes"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/models"
)

// a field of upstream's DesiredLRP this project does not model, as an upstream client encodes
// it: volume_mounted_files (38: a File with path "/etc/config" and content "key")
var upstreamDesiredLRPFields = bytes.Join([][]byte{
	{0xb2, 0x02, 0x12, 0x0a, 0x0b}, []byte("/etc/config"), {0x12, 0x03}, []byte("key"),
}, nil)

// a field number neither this project's ActualLRP nor its Task has
var laterField = []byte{0xd2, 0x06, 0x03, 'n', 'e', 'w'} // field 106, "new"

// withFields decodes m's encoding followed by extra, as the BBS decodes a request.
func withFields[T proto.Message](m T, extra []byte) T {
	b, err := proto.Marshal(m)
	Expect(err).NotTo(HaveOccurred())
	out := m.ProtoReflect().New().Interface().(T)
	Expect(proto.Unmarshal(append(b, extra...), out)).To(Succeed())
	Expect([]byte(out.ProtoReflect().GetUnknown())).To(Equal(extra))
	return out
}

// expectFields checks that m encodes extra byte for byte.
func expectFields(m proto.Message, extra []byte) {
	Expect([]byte(m.ProtoReflect().GetUnknown())).To(Equal(extra))
	b, err := proto.Marshal(m)
	Expect(err).NotTo(HaveOccurred())
	Expect(bytes.HasSuffix(b, extra)).To(BeTrue(), "encoding % x lacks % x", b, extra)
}

func unmodeledFieldSpecs() {
	Describe("fields this project does not model", func() {
		It("survive in a desired LRP: desire, read, list, update", func() {
			stored, _, err := store.Desire(ctx, withFields(newDesired("sidecars", 1), upstreamDesiredLRPFields))
			Expect(err).NotTo(HaveOccurred())
			expectFields(stored, upstreamDesiredLRPFields)
			got, err := store.DesiredLRPByProcessGuid(ctx, "sidecars")
			Expect(err).NotTo(HaveOccurred())
			expectFields(got, upstreamDesiredLRPFields)
			all, err := store.DesiredLRPs(ctx, db.DesiredFilter{})
			Expect(err).NotTo(HaveOccurred())
			Expect(all).To(HaveLen(1))
			expectFields(all[0], upstreamDesiredLRPFields)

			instances := int32(2)
			_, after, _, err := store.UpdateDesiredLRP(ctx, "sidecars", &models.DesiredLRPUpdate{
				Instances: &instances, MetricTags: map[string]*models.MetricTagValue{"t": {Static: "v"}},
			})
			Expect(err).NotTo(HaveOccurred())
			expectFields(after, upstreamDesiredLRPFields)
			got, err = store.DesiredLRPByProcessGuid(ctx, "sidecars")
			Expect(err).NotTo(HaveOccurred())
			expectFields(got, upstreamDesiredLRPFields)
			Expect(got.GetInstances()).To(Equal(int32(2)))
			Expect(got.GetMetricTags()).To(HaveKey("t"))
		})

		It("survive in a task's definition and in the task record through its lifecycle", func() {
			def := withFields(&models.TaskDefinition{RootFs: "docker:///busybox"}, laterField)
			_, err := store.DesireTask(ctx, def, "later", "d")
			Expect(err).NotTo(HaveOccurred())
			// a task record written with a field of its own this project does not know
			t, err := store.TaskByGuid(ctx, "later")
			Expect(err).NotTo(HaveOccurred())
			b, err := proto.Marshal(withFields(t, laterField))
			Expect(err).NotTo(HaveOccurred())
			_, err = etcdCli.Put(ctx, db.TaskPrefix+"later", string(keys.Seal(db.TaskPrefix+"later", b)))
			Expect(err).NotTo(HaveOccurred())

			_, _, ok, err := store.StartTask(ctx, "later", "cell")
			Expect(err).NotTo(HaveOccurred())
			Expect(ok).To(BeTrue())
			_, _, err = store.CompleteTask(ctx, "later", "cell", false, "", "done")
			Expect(err).NotTo(HaveOccurred())
			for _, read := range []func() *models.Task{
				func() *models.Task {
					t, err := store.TaskByGuid(ctx, "later")
					Expect(err).NotTo(HaveOccurred())
					return t
				},
				func() *models.Task {
					ts, err := store.Tasks(ctx, db.TaskFilter{})
					Expect(err).NotTo(HaveOccurred())
					Expect(ts).To(HaveLen(1))
					return ts[0]
				},
			} {
				t := read()
				Expect(t.GetResult()).To(Equal("done"))
				expectFields(t, laterField)
				expectFields(t.GetTaskDefinition(), laterField)
			}
		})

		It("survive in an instance record through claim and start", func() {
			_, err := store.DesireLRP(ctx, newDesired("later-lrp", 1))
			Expect(err).NotTo(HaveOccurred())
			a, err := store.ActualLRP(ctx, "later-lrp", 0, models.ActualLRP_ORDINARY)
			Expect(err).NotTo(HaveOccurred())
			b, err := proto.Marshal(withFields(a, laterField))
			Expect(err).NotTo(HaveOccurred())
			key := db.ActualPrefix + "later-lrp/0/0"
			_, err = etcdCli.Put(ctx, key, string(keys.Seal(key, b)))
			Expect(err).NotTo(HaveOccurred())

			ik := &models.ActualLRPInstanceKey{InstanceGuid: "i", CellId: "c"}
			Eventually(func() error {
				_, _, err := store.ClaimActualLRP(ctx, "later-lrp", 0, ik)
				return err
			}).Should(Succeed())
			_, after, _, err := store.StartActualLRP(ctx, db.StartRequest{Key: a.GetActualLrpKey(), InstanceKey: ik, NetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.1"}})
			Expect(err).NotTo(HaveOccurred())
			expectFields(after, laterField)
			Eventually(func() []byte {
				as, err := store.ActualLRPs(ctx, db.ActualFilter{CellID: "c"})
				Expect(err).NotTo(HaveOccurred())
				if len(as) != 1 || as[0].GetState() != models.ActualLRPStateRunning {
					return nil
				}
				return []byte(as[0].ProtoReflect().GetUnknown())
			}).Should(Equal(laterField))
			got, err := store.ActualLRP(ctx, "later-lrp", 0, models.ActualLRP_ORDINARY)
			Expect(err).NotTo(HaveOccurred())
			expectFields(got, laterField)
		})
	})
}
