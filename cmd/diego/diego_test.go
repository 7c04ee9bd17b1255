package main_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep/reptest"
)

func desiredLRP(guid, domain string, instances int32) *models.DesiredLRP {
	return &models.DesiredLRP{
		ProcessGuid: guid, Domain: domain, RootFs: "preloaded:cflinuxfs4", Instances: instances, MemoryMb: 64, DiskMb: 32,
		Action: &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/app", User: "vcap"}}},
	}
}

func desire(d *models.DesiredLRP) {
	GinkgoHelper()
	Expect(bbsClient.DesireLRP(context.Background(), d)).To(Succeed())
}

// lines splits output into its non-empty lines.
func lines(out string) []string {
	return strings.Split(strings.TrimRight(out, "\n"), "\n")
}

var _ = Describe("diego", func() {
	ctx := context.Background()

	Describe("desired-lrps", Ordered, func() {
		BeforeAll(func() {
			desire(desiredLRP("dl-a", "dl-domain", 2))
			desire(desiredLRP("dl-b", "dl-domain", 1))
		})

		It("prints a table of the desired LRPs", func() {
			out := diego("desired-lrps", "--domain", "dl-domain")
			Expect(lines(out)).To(HaveLen(3))
			Expect(out).To(MatchRegexp(`^PROCESS GUID\s+DOMAIN\s+INSTANCES\s+MEMORY MB\s+DISK MB\s+ROOTFS\n`))
			Expect(out).To(MatchRegexp(`(?m)^dl-a\s+dl-domain\s+2\s+64\s+32\s+preloaded:cflinuxfs4$`))
			Expect(out).To(MatchRegexp(`(?m)^dl-b\s+dl-domain\s+1\s+64\s+32\s+preloaded:cflinuxfs4$`))
		})

		It("prints each record as one line of JSON with --json", func() {
			want, err := bbsClient.DesiredLRPs(ctx, bbs.DesiredLRPFilter{Domain: "dl-domain"})
			Expect(err).NotTo(HaveOccurred())
			out := diego("desired-lrps", "--domain", "dl-domain", "--json")
			Expect(out).To(ContainSubstring(`"process_guid":"dl-a"`))
			got := lines(out)
			Expect(got).To(HaveLen(len(want)))
			for i, l := range got {
				d := &models.DesiredLRP{}
				Expect(protojson.Unmarshal([]byte(l), d)).To(Succeed())
				Expect(proto.Equal(d, want[i])).To(BeTrue(), l)
			}
		})
	})

	Describe("actual-lrps and retire-actual-lrp", func() {
		It("lists the instances and retires one", func() {
			desire(desiredLRP("al-a", "al-domain", 2))
			out := diego("actual-lrps", "--process-guid", "al-a")
			Expect(out).To(MatchRegexp(`^PROCESS GUID\s+INDEX\s+DOMAIN\s+PRESENCE\s+STATE\s+CELL`))
			Expect(out).To(MatchRegexp(`(?m)^al-a\s+0\s+al-domain\s+ORDINARY\s+UNCLAIMED\s`))
			Expect(out).To(MatchRegexp(`(?m)^al-a\s+1\s+al-domain\s+ORDINARY\s+UNCLAIMED\s`))

			js := lines(diego("actual-lrps", "--process-guid", "al-a", "--index", "1", "--json"))
			Expect(js).To(HaveLen(1))
			a := &models.ActualLRP{}
			Expect(protojson.Unmarshal([]byte(js[0]), a)).To(Succeed())
			Expect(a.GetActualLrpKey().GetIndex()).To(Equal(int32(1)))
			Expect(a.GetState()).To(Equal(models.ActualLRPStateUnclaimed))

			Expect(diego("retire-actual-lrp", "al-a", "1")).To(BeEmpty())
			as, err := bbsClient.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: "al-a"})
			Expect(err).NotTo(HaveOccurred())
			Expect(as).To(HaveLen(1))
			Expect(as[0].GetActualLrpKey().GetIndex()).To(Equal(int32(0)))
		})

		It("names a desired LRP or an instance that does not exist", func() {
			Expect(fails(nil, append(bbsFlags(), "retire-actual-lrp", "no-such-guid", "0")...)).
				To(Equal("diego: desired LRP 'no-such-guid' not found\n"))
			desire(desiredLRP("al-one", "al-domain", 1))
			Expect(fails(nil, append(bbsFlags(), "retire-actual-lrp", "al-one", "5")...)).
				To(Equal("diego: actual LRP 'al-one' index 5 not found\n"))
		})

		It("refuses an index that is not a number", func() {
			Expect(fails(nil, append(bbsFlags(), "retire-actual-lrp", "al-a", "one")...)).To(ContainSubstring(`index "one"`))
		})
	})

	Describe("domains and set-domain", func() {
		It("marks a domain fresh and lists it", func() {
			Expect(diego("domains")).NotTo(ContainSubstring("fresh-one"))
			Expect(diego("set-domain", "fresh-one")).To(BeEmpty())
			Expect(diego("set-domain", "fresh-two", "--ttl", "1h")).To(BeEmpty())
			out := diego("domains")
			Expect(out).To(HavePrefix("DOMAIN\n"))
			Expect(lines(out)).To(ContainElements("fresh-one", "fresh-two"))
			Expect(lines(diego("domains", "--json"))).To(ContainElements(`"fresh-one"`, `"fresh-two"`))
		})

		It("forgets a domain after its ttl", func() {
			Expect(diego("set-domain", "short-lived", "--ttl", "1s")).To(BeEmpty())
			Expect(lines(diego("domains"))).To(ContainElement("short-lived"))
			Eventually(func() []string { return lines(diego("domains")) }, 10*time.Second, 500*time.Millisecond).
				ShouldNot(ContainElement("short-lived"))
		})
	})

	Describe("tasks and cancel-task", func() {
		It("lists the tasks and cancels one", func() {
			def := &models.TaskDefinition{RootFs: "preloaded:cflinuxfs4", MemoryMb: 16,
				Action: &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/true", User: "vcap"}}}}
			Expect(bbsClient.DesireTask(ctx, "task-a", "task-domain", def)).To(Succeed())
			out := diego("tasks", "--domain", "task-domain")
			Expect(out).To(MatchRegexp(`^TASK GUID\s+DOMAIN\s+STATE\s+CELL\s+FAILED\s+FAILURE REASON\n`))
			Expect(out).To(MatchRegexp(`(?m)^task-a\s+task-domain\s+Pending\s+false\s*$`))

			Expect(diego("cancel-task", "task-a")).To(BeEmpty())
			js := lines(diego("tasks", "--domain", "task-domain", "--json"))
			Expect(js).To(HaveLen(1))
			t := &models.Task{}
			Expect(protojson.Unmarshal([]byte(js[0]), t)).To(Succeed())
			Expect(t.GetTaskGuid()).To(Equal("task-a"))
			Expect(t.GetState()).To(Equal(models.Task_Completed))
			Expect(t.GetFailed()).To(BeTrue())
			Expect(t.GetFailureReason()).To(Equal("task was cancelled"))
		})

		It("names a task that does not exist", func() {
			Expect(fails(nil, append(bbsFlags(), "cancel-task", "no-such-task")...)).To(Equal("diego: task 'no-such-task' not found\n"))
		})
	})

	Describe("cells and cell-states", func() {
		It("lists the cells and asks each rep for its state", func() {
			r := reptest.New("cli-cell", reptest.Options{Zone: "z7", Total: models.Resources{MemoryMB: 2048, DiskMB: 4096, Containers: 12}})
			DeferCleanup(r.Close)
			reptest.RegisterPresence(logger, consulClient, "cli-cell", r.URL(), lockTTL, lockRetry)

			out := diego("cells")
			Expect(out).To(MatchRegexp(`^CELL\s+ZONE\s+REP URL\s+MEMORY MB\s+DISK MB\s+CONTAINERS\n`))
			Expect(out).To(MatchRegexp(`(?m)^cli-cell\s+z1\s+` + r.URL() + `\s`))
			js := lines(diego("cells", "--json"))
			Expect(js).To(HaveLen(1))
			p := &models.CellPresence{}
			Expect(protojson.Unmarshal([]byte(js[0]), p)).To(Succeed())
			Expect(p.GetCellId()).To(Equal("cli-cell"))
			Expect(p.GetRepUrl()).To(Equal(r.URL()))

			out = diego("cell-states")
			Expect(out).To(MatchRegexp(`^CELL\s+ZONE\s+EVACUATING\s+FREE MEMORY MB\s+FREE DISK MB\s+FREE CONTAINERS\s+LRPS\s+TASKS\n`))
			Expect(out).To(MatchRegexp(`(?m)^cli-cell\s+z7\s+false\s+2048/2048\s+4096/4096\s+12/12\s+0\s+0$`))
			Expect(diego("cell-states", "--json")).To(ContainSubstring(`"cell_id":"cli-cell"`))

			r.SetDead(true)
			Expect(fails(nil, append(bbsFlags(), "cell-states")...)).To(ContainSubstring("cell cli-cell: "))
		})
	})

	Describe("events", func() {
		It("prints a line per event until interrupted", func() {
			s := start(nil, append(bbsFlags(), "events")...)
			n := 0
			Eventually(func() string {
				// a record desired before the stream opened is not reported: desire until one is
				n++
				desire(desiredLRP(fmt.Sprintf("ev-%d", n), "ev-domain", 1))
				return string(s.Out.Contents())
			}, 10*time.Second, 300*time.Millisecond).Should(MatchRegexp(`(?m)^desired_lrp_created ev-\d+ instances=1$`))
			Eventually(s.Out, 5*time.Second).Should(gbytes.Say(`actual_lrp_instance_created ev-\d+/0 state=UNCLAIMED`))

			Expect(bbsClient.RemoveDesiredLRP(ctx, fmt.Sprintf("ev-%d", n))).To(Succeed())
			Eventually(s.Out, 5*time.Second).Should(gbytes.Say(fmt.Sprintf(`desired_lrp_removed ev-%d`, n)))

			s.Signal(syscall.SIGINT)
			Eventually(s, 5*time.Second).Should(gexec.Exit(0))
		})

		It("prints each event as JSON with --json", func() {
			s := start(nil, append(bbsFlags(), "events", "--json")...)
			n := 0
			Eventually(func() string {
				n++
				desire(desiredLRP(fmt.Sprintf("evj-%d", n), "ev-domain", 1))
				return string(s.Out.Contents())
			}, 10*time.Second, 300*time.Millisecond).Should(MatchRegexp(`(?m)^\{"type":"desired_lrp_created","data":\{"desired_lrp":\{"process_guid":"evj-\d+"`))
			s.Signal(syscall.SIGINT)
			Eventually(s, 5*time.Second).Should(gexec.Exit(0))
		})
	})

	Describe("configuration", func() {
		It("reads the BBS settings from the environment", func() {
			s := run([]string{"BBS_URL=" + bbsURL, "BBS_CA_CERT_FILE=" + certs.CACert, "BBS_CERT_FILE=" + certs.ClientCert, "BBS_KEY_FILE=" + certs.ClientKey}, "domains")
			Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))
			Expect(string(s.Out.Contents())).To(HavePrefix("DOMAIN\n"))
		})

		It("reads them from an env file, after the flags and the environment", func() {
			file := filepath.Join(GinkgoT().TempDir(), "diego.env")
			Expect(os.WriteFile(file, []byte(fmt.Sprintf("# the suite's BBS\nexport BBS_URL=%s\nBBS_CA_CERT_FILE=%q\nBBS_CERT_FILE=%s\nBBS_KEY_FILE=%s\n",
				bbsURL, certs.CACert, certs.ClientCert, certs.ClientKey)), 0o600)).To(Succeed())
			s := run([]string{"DIEGO_ENV_FILE=" + file}, "domains")
			Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))
			s = run(nil, "--env-file", file, "domains")
			Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))

			// the environment wins over the file
			unreachable := "https://" + daemontest.FreeAddr()
			Expect(fails([]string{"BBS_URL=" + unreachable}, "--env-file", file, "domains")).To(ContainSubstring(unreachable))
			// and a flag over both
			s = run([]string{"BBS_URL=" + unreachable}, "--env-file", file, "--bbs-url", bbsURL, "domains")
			Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))
		})

		It("says which flag or variable sets the BBS URL when none is configured", func() {
			Expect(fails(nil, "domains")).To(Equal("diego: no BBS URL configured: give --bbs-url, set BBS_URL, or name an env file setting it with --env-file or DIEGO_ENV_FILE\n"))
		})

		It("names an env file it cannot read and a line it cannot parse", func() {
			Expect(fails(nil, "--env-file", "/no/such/diego.env", "domains")).To(ContainSubstring("cannot read the env file /no/such/diego.env"))
			file := filepath.Join(GinkgoT().TempDir(), "bad.env")
			Expect(os.WriteFile(file, []byte("BBS_URL\n"), 0o600)).To(Succeed())
			Expect(fails(nil, "--env-file", file, "domains")).To(ContainSubstring("line 1: want KEY=VALUE"))
		})

		It("says it cannot reach a wrong address", func() {
			addr := "https://" + daemontest.FreeAddr()
			args := []string{"--bbs-url", addr, "--bbs-ca-cert-file", certs.CACert, "--bbs-cert-file", certs.ClientCert, "--bbs-key-file", certs.ClientKey, "domains"}
			Expect(fails(nil, args...)).To(HavePrefix("diego: cannot reach the BBS at " + addr + ": "))
		})

		It("uses whichever of several BBS URLs answers, as a standby BBS does not", func() {
			down := "https://" + daemontest.FreeAddr()
			s := run([]string{"BBS_URL=" + down + "," + bbsURL, "BBS_CA_CERT_FILE=" + certs.CACert, "BBS_CERT_FILE=" + certs.ClientCert, "BBS_KEY_FILE=" + certs.ClientKey}, "domains")
			Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))
			also := "https://" + daemontest.FreeAddr()
			Expect(fails([]string{"BBS_URL=" + down + "," + also, "BBS_CA_CERT_FILE=" + certs.CACert, "BBS_CERT_FILE=" + certs.ClientCert, "BBS_KEY_FILE=" + certs.ClientKey}, "domains")).
				To(HavePrefix("diego: cannot reach the BBS at " + down + "," + also + ": "))
			Expect(fails(nil, "--bbs-url", bbsURL+",bbs.test:8889", "domains")).To(ContainSubstring(`BBS URL "bbs.test:8889": want http:// or https://`))
		})

		It("names a missing certificate setting and a certificate file it cannot read", func() {
			Expect(fails(nil, "--bbs-url", bbsURL, "domains")).To(ContainSubstring("no bbs-ca-cert file is configured: give --bbs-ca-cert-file or set BBS_CA_CERT_FILE"))
			args := []string{"--bbs-url", bbsURL, "--bbs-ca-cert-file", certs.CACert, "--bbs-cert-file", "/no/such/client.crt", "--bbs-key-file", certs.ClientKey, "domains"}
			Expect(fails(nil, args...)).To(ContainSubstring("/no/such/client.crt does not exist"))
		})
	})
})
