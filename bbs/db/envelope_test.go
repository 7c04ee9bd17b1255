package db_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"log/slog"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/models"
)

// sealFormat1 seals as stores of schema version 1 did: the label is the only additional data.
func sealFormat1(passphrase, label string, plain []byte) []byte {
	sum := sha256.Sum256([]byte(passphrase))
	block, err := aes.NewCipher(sum[:])
	Expect(err).NotTo(HaveOccurred())
	aead, err := cipher.NewGCM(block)
	Expect(err).NotTo(HaveOccurred())
	out := append([]byte{1, byte(len(label))}, label...)
	nonce := make([]byte, aead.NonceSize())
	_, err = rand.Read(nonce)
	Expect(err).NotTo(HaveOccurred())
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plain, []byte(label))
}

func isFailedToOpen(err error) bool {
	return errors.Is(err, &models.Error{Type: models.Error_FailedToOpenEnvelope})
}

var _ = Describe("envelopes bound to their etcd keys", func() {
	put := func(key string, v []byte) {
		_, err := etcdCli.Put(ctx, key, string(v))
		Expect(err).NotTo(HaveOccurred())
	}
	value := func(key string) []byte {
		resp, err := etcdCli.Get(ctx, key)
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Kvs).To(HaveLen(1))
		return resp.Kvs[0].Value
	}

	It("refuse a value copied to another record's key", func() {
		for _, g := range []string{"moved-from", "moved-to"} {
			_, err := store.DesireTask(ctx, &models.TaskDefinition{RootFs: "docker:///busybox"}, g, "d")
			Expect(err).NotTo(HaveOccurred())
		}
		put(db.TaskPrefix+"moved-to", value(db.TaskPrefix+"moved-from"))
		_, err := store.TaskByGuid(ctx, "moved-to")
		Expect(isFailedToOpen(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring(db.TaskPrefix + "moved-to"))
		Expect(store.TaskByGuid(ctx, "moved-from")).NotTo(BeNil())
	})

	It("refuse an older instance record rolled back under another index", func() {
		_, err := store.DesireLRP(ctx, newDesired("rolled", 2))
		Expect(err).NotTo(HaveOccurred())
		old := value(db.ActualPrefix + "rolled/0/0")
		_, _, err = store.ClaimActualLRP(ctx, "rolled", 1, &models.ActualLRPInstanceKey{InstanceGuid: "i", CellId: "c"})
		Expect(err).NotTo(HaveOccurred())
		put(db.ActualPrefix+"rolled/1/0", old)
		_, err = store.ActualLRP(ctx, "rolled", 1, models.ActualLRP_ORDINARY)
		Expect(isFailedToOpen(err)).To(BeTrue(), "%v", err)
		_, _, err = store.ClaimActualLRP(ctx, "rolled", 1, &models.ActualLRPInstanceKey{InstanceGuid: "j", CellId: "c"})
		Expect(isFailedToOpen(err)).To(BeTrue(), "%v", err)
		as, err := store.ActualLRPs(ctx, db.ActualFilter{ProcessGuid: "rolled"})
		Expect(err).NotTo(HaveOccurred())
		Expect(as).To(HaveLen(1)) // the moved record is skipped, as any record that does not open
	})

	It("are what migration 1 -> 2 re-seals records of a version 1 store as, after which format 1 is refused", func() {
		_, err := store.DesireLRP(ctx, newDesired("old-lrp", 2))
		Expect(err).NotTo(HaveOccurred())
		_, err = store.DesireTask(ctx, &models.TaskDefinition{RootFs: "docker:///busybox"}, "old-task", "d")
		Expect(err).NotTo(HaveOccurred())
		wantLRP, err := store.DesiredLRPByProcessGuid(ctx, "old-lrp")
		Expect(err).NotTo(HaveOccurred())
		wantTask, err := store.TaskByGuid(ctx, "old-task")
		Expect(err).NotTo(HaveOccurred())

		// turn the store into what a version 1 BBS left
		plain := map[string][]byte{}
		for k, v := range allValues() {
			p, _, err := keys.Open(k, v)
			Expect(err).NotTo(HaveOccurred())
			plain[k] = p
			put(k, sealFormat1("first passphrase", "k1", p))
		}
		Expect(plain).To(HaveLen(5))
		put(db.SchemaVersionKey, []byte("1"))
		_, err = store.TaskByGuid(ctx, "old-task")
		Expect(isFailedToOpen(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("migration"))

		Expect(store.Migrate(ctx)).To(Succeed())
		v, _, err := store.SchemaVersion(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(v).To(Equal(2))
		vals := allValues()
		for k, p := range plain {
			Expect(vals[k][0]).To(Equal(db.FormatKeyBound), k)
			got, _, err := keys.Open(k, vals[k])
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(p), k)
		}
		gotLRP, err := store.DesiredLRPByProcessGuid(ctx, "old-lrp")
		Expect(err).NotTo(HaveOccurred())
		Expect(proto.Equal(gotLRP, wantLRP)).To(BeTrue())
		gotTask, err := store.TaskByGuid(ctx, "old-task")
		Expect(err).NotTo(HaveOccurred())
		Expect(proto.Equal(gotTask, wantTask)).To(BeTrue())

		// a format 1 value put back afterwards (a rollback from a backup) does not open
		put(db.TaskPrefix+"old-task", sealFormat1("first passphrase", "k1", plain[db.TaskPrefix+"old-task"]))
		_, err = store.TaskByGuid(ctx, "old-task")
		Expect(isFailedToOpen(err)).To(BeTrue(), "%v", err)
	})

	It("are not re-sealed by key rotation when format 1, so a moved old value stays refused", func() {
		Expect(store.Migrate(ctx)).To(Succeed())
		for _, g := range []string{"source", "victim"} {
			_, err := store.DesireTask(ctx, &models.TaskDefinition{RootFs: "docker:///busybox"}, g, "d")
			Expect(err).NotTo(HaveOccurred())
		}
		plain, _, err := keys.Open(db.TaskPrefix+"source", value(db.TaskPrefix+"source"))
		Expect(err).NotTo(HaveOccurred())
		put(db.TaskPrefix+"victim", sealFormat1("first passphrase", "k1", plain))
		_, err = store.TaskByGuid(ctx, "victim")
		Expect(isFailedToOpen(err)).To(BeTrue(), "%v", err)

		both, err := db.NewKeyring(map[string]string{"k1": "first passphrase", "k2": "second passphrase"}, "k2")
		Expect(err).NotTo(HaveOccurred())
		rotated := db.New(etcdCli, both)
		n, err := rotated.RotateKeys(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(Equal(1)) // source only
		Expect(value(db.TaskPrefix + "victim")[0]).To(Equal(db.FormatUnbound))
		t, err := rotated.TaskByGuid(ctx, "victim")
		Expect(isFailedToOpen(err)).To(BeTrue(), "victim read back as %v (%v)", t.GetTaskGuid(), err)
		Expect(rotated.TaskByGuid(ctx, "source")).NotTo(BeNil())
	})

	It("stop migration 1 -> 2 at a format 1 record the keyring cannot open, naming it, with nothing re-sealed", func() {
		for _, g := range []string{"readable", "lost-key"} {
			_, err := store.DesireTask(ctx, &models.TaskDefinition{RootFs: "docker:///busybox"}, g, "d")
			Expect(err).NotTo(HaveOccurred())
		}
		for k, v := range allValues() {
			p, _, err := keys.Open(k, v)
			Expect(err).NotTo(HaveOccurred())
			put(k, sealFormat1("first passphrase", "k1", p))
		}
		put(db.TaskPrefix+"lost-key", sealFormat1("a passphrase no longer configured", "k0", []byte("x")))
		put(db.SchemaVersionKey, []byte("1"))

		err := store.Migrate(ctx)
		Expect(isFailedToOpen(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring(db.TaskPrefix + "lost-key"))
		Expect(err.Error()).To(ContainSubstring("encryption_keys"))
		v, _, err := store.SchemaVersion(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(v).To(Equal(1))
		Expect(value(db.TaskPrefix + "readable")[0]).To(Equal(db.FormatUnbound))

		// with the record gone (or its key configured) the migration goes through
		_, err = etcdCli.Delete(ctx, db.TaskPrefix+"lost-key")
		Expect(err).NotTo(HaveOccurred())
		Expect(store.Migrate(ctx)).To(Succeed())
		Expect(store.TaskByGuid(ctx, "readable")).NotTo(BeNil())
	})

	It("that do not open are counted in one log line by the record cache's load, not one line each", func() {
		_, err := store.DesireLRP(ctx, newDesired("unmigrated", 40))
		Expect(err).NotTo(HaveOccurred())
		all := allValues()
		for k, v := range all {
			p, _, err := keys.Open(k, v)
			Expect(err).NotTo(HaveOccurred())
			put(k, sealFormat1("first passphrase", "k1", p))
		}
		logs := gbytes.NewBuffer()
		// warnings and errors only: the load's own line (how long it took) is not about the records
		logged := db.New(etcdCli, keys, db.WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))))
		cctx, cancel := context.WithCancel(ctx)
		DeferCleanup(cancel)
		Expect(logged.StartCache(cctx)).To(Succeed())
		lines := strings.Split(strings.TrimSpace(string(logs.Contents())), "\n")
		Expect(lines).To(HaveLen(1), "%s", logs.Contents())
		Expect(lines[0]).To(ContainSubstring("skipped=41"))             // 40 instances and the schedule record
		Expect(lines[0]).To(MatchRegexp(`first_key=/v1/\S+unmigrated`)) // whichever chunk was first
		Expect(lines[0]).To(ContainSubstring("envelope format 1"))
	})

	It("leave a version 2 store as it is when migrating", func() {
		Expect(store.Migrate(ctx)).To(Succeed())
		_, err := store.DesireTask(ctx, &models.TaskDefinition{RootFs: "docker:///busybox"}, "t", "d")
		Expect(err).NotTo(HaveOccurred())
		resp, err := etcdCli.Get(ctx, db.TaskPrefix+"t")
		Expect(err).NotTo(HaveOccurred())
		Expect(store.Migrate(ctx)).To(Succeed())
		again, err := etcdCli.Get(ctx, db.TaskPrefix+"t")
		Expect(err).NotTo(HaveOccurred())
		Expect(again.Kvs[0].ModRevision).To(Equal(resp.Kvs[0].ModRevision))
		v, _, err := store.SchemaVersion(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(v).To(Equal(db.CurrentSchemaVersion))
	})
})
