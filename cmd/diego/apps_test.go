package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/executor/logstream"
	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep/reptest"
)

// The developer's commands against the suite's BBS: no auctioneer and no cell, so the spec plays
// the cells' part through the BBS's own API (claim, start, crash, fail placement, complete).

func actuals(guid string) []*models.ActualLRP {
	GinkgoHelper()
	lrps, err := bbsClient.ActualLRPs(context.Background(), bbs.ActualLRPFilter{ProcessGuid: guid})
	Expect(err).NotTo(HaveOccurred())
	return lrps
}

// unclaimed waits for the app's instance index to exist and returns its key.
func unclaimed(guid string, index int32) *models.ActualLRPKey {
	GinkgoHelper()
	var key *models.ActualLRPKey
	Eventually(func() *models.ActualLRPKey {
		for _, a := range actuals(guid) {
			if a.GetActualLrpKey().GetIndex() == index {
				key = a.GetActualLrpKey()
			}
		}
		return key
	}, 10*time.Second, 50*time.Millisecond).ShouldNot(BeNil(), "%s/%d exists", guid, index)
	return key
}

// startInstance claims and starts the app's instance as a cell's rep does.
func startInstance(guid string, index int32, cell string) {
	GinkgoHelper()
	ctx := context.Background()
	key := unclaimed(guid, index)
	ik := &models.ActualLRPInstanceKey{InstanceGuid: fmt.Sprintf("%s-%d-ig", guid, index), CellId: cell}
	Expect(bbsClient.ClaimActualLRP(ctx, guid, index, ik)).To(Succeed())
	Expect(bbsClient.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: key, ActualLrpInstanceKey: ik,
		ActualLrpNetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.7", Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: 61000 + uint32(index)}}}})).To(Succeed())
}

func desiredApp(guid string) *models.DesiredLRP {
	GinkgoHelper()
	d, err := bbsClient.DesiredLRPByProcessGuid(context.Background(), guid)
	Expect(err).NotTo(HaveOccurred())
	return d
}

var _ = Describe("developer commands", func() {
	ctx := context.Background()

	Describe("create-app", func() {
		It("desires the app's LRP with everything its flags say", func() {
			diegoWithEnv([]string{"DIEGO_APP_DOMAIN=apps.test", "DIEGO_FILE_SERVER_URL=http://files.test:8080"}, "create-app", "ca-full", "--no-wait",
				"--instances", "3", "--memory", "128", "--disk", "256", "--port", "9090", "--env", "A=1", "--env", "B=two=2",
				"--download", "https://blobs.test/lib.tgz:/home/vcap/lib", "--download", "app.tgz:/home/vcap/app", "--",
				"/home/vcap/app/run", "--flag", "x")
			d := desiredApp("ca-full")
			Expect(d.GetDomain()).To(Equal("diego-apps"))
			Expect(d.GetLogGuid()).To(Equal("ca-full"))
			Expect(d.GetRootFs()).To(Equal("preloaded:busybox"))
			Expect(d.GetInstances()).To(Equal(int32(3)))
			Expect(d.GetMemoryMb()).To(Equal(int32(128)))
			Expect(d.GetDiskMb()).To(Equal(int32(256)))
			Expect(d.GetPorts()).To(Equal([]uint32{9090}))
			var env []string
			for _, e := range d.GetEnvironmentVariables() {
				env = append(env, e.GetName()+"="+e.GetValue())
			}
			Expect(env).To(Equal([]string{"PORT=9090", "A=1", "B=two=2"}))
			downloads := d.GetSetup().GetSerialAction().GetActions()
			Expect(downloads).To(HaveLen(2))
			Expect(downloads[0].GetDownloadAction().GetFrom()).To(Equal("https://blobs.test/lib.tgz"))
			Expect(downloads[0].GetDownloadAction().GetTo()).To(Equal("/home/vcap/lib"))
			dl := downloads[1].GetDownloadAction()
			Expect(dl.GetFrom()).To(Equal("http://files.test:8080/v1/static/app.tgz"), "a file is the file server's")
			Expect(dl.GetTo()).To(Equal("/home/vcap/app"))
			Expect(dl.GetCacheKey()).To(Equal(dl.GetFrom()))
			Expect(dl.GetUser()).To(Equal("vcap"))
			run := d.GetAction().GetRunAction()
			Expect(run.GetPath()).To(Equal("/home/vcap/app/run"))
			Expect(run.GetArgs()).To(Equal([]string{"--flag", "x"}))
			Expect(run.GetUser()).To(Equal("vcap"))
			Expect(d.GetCheckDefinition().GetChecks()).To(HaveLen(1))
			Expect(d.GetCheckDefinition().GetChecks()[0].GetTcpCheck().GetPort()).To(Equal(uint32(9090)))
			Expect(string(d.GetRoutes().GetRoutes()["cf-router"])).To(Equal(`[{"hostnames":["ca-full.apps.test"],"port":9090}]`))

			domains, err := bbsClient.Domains(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(domains).To(ContainElement("diego-apps"))
		})

		It("routes the hostnames given, runs a docker image as root, and leaves out the health check on request", func() {
			diegoWithEnv([]string{"DIEGO_APP_DOMAIN=apps.test"}, "create-app", "ca-image", "--no-wait", "--image", "registry.test:5000/team/app:1.2",
				"--route", "a.test", "--route", "b.test", "--no-monitor", "--", "/bin/app")
			d := desiredApp("ca-image")
			Expect(d.GetRootFs()).To(Equal("docker://registry.test:5000/team/app#1.2"))
			Expect(d.GetAction().GetRunAction().GetUser()).To(Equal("root"))
			Expect(d.GetCheckDefinition()).To(BeNil())
			Expect(string(d.GetRoutes().GetRoutes()["cf-router"])).To(Equal(`[{"hostnames":["a.test","b.test"],"port":8080}]`))

			diego("create-app", "ca-hub", "--no-wait", "--image", "busybox", "--", "/bin/sh")
			Expect(desiredApp("ca-hub").GetRootFs()).To(Equal("docker:///busybox"))
			Expect(desiredApp("ca-hub").GetRoutes()).To(BeNil(), "no app domain, no default route")
			diego("create-app", "ca-digest", "--no-wait", "--image", "library/busybox@sha256:0123abcd", "--", "/bin/sh")
			Expect(desiredApp("ca-digest").GetRootFs()).To(Equal("docker:///library/busybox#sha256:0123abcd"))
		})

		It("names what is wrong with its arguments", func() {
			Expect(fails(nil, append(bbsFlags(), "create-app", "ca-bad", "--no-wait")...)).To(ContainSubstring("want: create-app NAME [flags] -- COMMAND [ARGS...]"))
			Expect(fails(nil, append(bbsFlags(), "create-app", "ca-bad", "extra", "--", "/bin/app")...)).To(ContainSubstring("want: create-app NAME"))
			Expect(fails(nil, append(bbsFlags(), "create-app", "ca-bad", "--env", "NOVALUE", "--", "/bin/app")...)).To(ContainSubstring(`--env "NOVALUE": want NAME=VALUE`))
			Expect(fails(nil, append(bbsFlags(), "create-app", "ca-bad", "--download", "files.test/app.tgz", "--", "/bin/app")...)).To(ContainSubstring(`--download "files.test/app.tgz": want URL:DEST`))
			Expect(fails(nil, append(bbsFlags(), "create-app", "ca-bad", "--download", "ftp://files.test/app.tgz:/app", "--", "/bin/app")...)).To(ContainSubstring(`--download "ftp://files.test/app.tgz:/app": want URL:DEST`))
			Expect(fails(nil, append(bbsFlags(), "create-app", "ca-bad", "--download", "app.tgz:/app", "--", "/bin/app")...)).To(ContainSubstring(`--download "app.tgz:/app" names a file of the file server, but no file server is configured: give --file-server-url or set DIEGO_FILE_SERVER_URL`))
			Expect(fails(nil, append(bbsFlags(), "create-app", "ca-bad", "--image", "busybox@md5:12", "--", "/bin/app")...)).To(ContainSubstring(`--image "busybox@md5:12"`))
			Expect(fails(nil, append(bbsFlags(), "create-app", "ca-bad", "--rootfs", "busybox", "--", "/bin/app")...)).To(ContainSubstring(`--rootfs "busybox": want preloaded:STACK`))
			Expect(fails(nil, append(bbsFlags(), "create-app", "ca-bad", "--rootfs", "preloaded:busybox", "--image", "busybox", "--", "/bin/app")...)).To(ContainSubstring("[image rootfs] were all set"))
			Expect(fails(nil, append(bbsFlags(), "create-app", "ca-bad", "--instances", "-1", "--", "/bin/app")...)).To(Equal("diego: --instances -1: want 0 or more\n"))
			Expect(fails(nil, append(bbsFlags(), "create-app", "ca-bad", "--port", "0", "--", "/bin/app")...)).To(Equal("diego: --port 0: want 1-65535\n"))
			Expect(fails(nil, append(bbsFlags(), "create-app", "ca-bad", "--port", "65536", "--", "/bin/app")...)).To(Equal("diego: --port 65536: want 1-65535\n"))
			_, err := bbsClient.DesiredLRPByProcessGuid(ctx, "ca-bad")
			Expect(err).To(MatchError(models.ErrResourceNotFound), "nothing half-written")

			diego("create-app", "ca-twice", "--no-wait", "--", "/bin/app")
			Expect(fails(nil, append(bbsFlags(), "create-app", "ca-twice", "--no-wait", "--", "/bin/app")...)).To(Equal("diego: app ca-twice exists already: remove it first, or scale it\n"))
		})

		It("shows the instances running until all run", func() {
			s := start(nil, append(bbsFlags(), "create-app", "ca-wait", "--instances", "2", "--", "/bin/app")...)
			Eventually(s.Out, 10*time.Second).Should(gbytes.Say("0/2 instances running\n"))
			startInstance("ca-wait", 0, "cell-a")
			Eventually(s.Out, 10*time.Second).Should(gbytes.Say("1/2 instances running\n"))
			Consistently(s, 500*time.Millisecond).ShouldNot(gexec.Exit())
			startInstance("ca-wait", 1, "cell-b")
			Eventually(s.Out, 10*time.Second).Should(gbytes.Say("2/2 instances running\n"))
			Eventually(s, 10*time.Second).Should(gexec.Exit(0))
		})

		It("rewrites the progress line in place on a terminal", func() {
			// script(1) gives the CLI a pseudo-terminal as its stdout
			cmd := diegoPath + " " + strings.Join(bbsFlags(), " ") + " create-app ca-tty -- /bin/app"
			s, err := gexec.Start(exec.Command("script", "-qec", cmd, "/dev/null"), GinkgoWriter, GinkgoWriter)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func() { s.Kill().Wait(5 * time.Second) })
			Eventually(s.Out, 10*time.Second).Should(gbytes.Say("0/1 instances running"))
			startInstance("ca-tty", 0, "cell-a")
			Eventually(s, 10*time.Second).Should(gexec.Exit(0))
			Expect(string(s.Out.Contents())).To(Equal("\r0/1 instances running\x1b[K\r1/1 instances running\x1b[K\r\n"))
		})

		It("ends on SIGINT saying what it waited for; the app stays", func() {
			s := start(nil, append(bbsFlags(), "create-app", "ca-int", "--", "/bin/app")...)
			Eventually(s.Out, 10*time.Second).Should(gbytes.Say("0/1 instances running\n"))
			s.Signal(syscall.SIGINT)
			Eventually(s, 10*time.Second).Should(gexec.Exit(1))
			Expect(string(s.Err.Contents())).To(Equal("diego: interrupted: 0/1 instances running; not running: 1 UNCLAIMED\n"))
			Expect(desiredApp("ca-int").GetInstances()).To(Equal(int32(1)))
		})

		It("fails naming the placement error of an instance that cannot be placed", func() {
			s := start(nil, append(bbsFlags(), "create-app", "ca-unplaced", "--instances", "2", "--", "/bin/app")...)
			Eventually(s.Out, 10*time.Second).Should(gbytes.Say("0/2 instances running\n"))
			Expect(bbsClient.FailActualLRP(ctx, unclaimed("ca-unplaced", 1), "insufficient resources: memory")).To(Succeed())
			Eventually(s, 10*time.Second).Should(gexec.Exit(1))
			Expect(string(s.Err.Contents())).To(Equal("diego: cannot place every instance of ca-unplaced: insufficient resources: memory (1 instance)\n"))
		})

		It("fails once every instance is CRASHED, naming the crash reason", func() {
			s := start(nil, append(bbsFlags(), "create-app", "ca-crash", "--", "/bin/app")...)
			Eventually(s.Out, 10*time.Second).Should(gbytes.Say("0/1 instances running\n"))
			key := unclaimed("ca-crash", 0)
			ik := &models.ActualLRPInstanceKey{InstanceGuid: "ca-crash-0-ig", CellId: "cell-a"}
			// the BBS's immediate restarts put the instance back to UNCLAIMED: the wait goes on
			for range 2 {
				Expect(bbsClient.ClaimActualLRP(ctx, "ca-crash", 0, ik)).To(Succeed())
				Expect(bbsClient.CrashActualLRP(ctx, key, ik, "exit status 2")).To(Succeed())
			}
			Consistently(s, 500*time.Millisecond).ShouldNot(gexec.Exit())
			Expect(bbsClient.ClaimActualLRP(ctx, "ca-crash", 0, ik)).To(Succeed())
			Expect(bbsClient.CrashActualLRP(ctx, key, ik, "exit status 2")).To(Succeed())
			Eventually(s, 10*time.Second).Should(gexec.Exit(1))
			Expect(string(s.Err.Contents())).To(Equal("diego: every instance of ca-crash crashed; not running: 1 CRASHED, instance 0 crashed 3 times: exit status 2\n"))
			Expect(desiredApp("ca-crash").GetInstances()).To(Equal(int32(1)), "the app stays desired")
		})

		It("fails at its timeout saying what does not run and why", func() {
			s := start(nil, append(bbsFlags(), "create-app", "ca-slow", "--instances", "3", "--timeout", "3s", "--", "/bin/app")...)
			Eventually(s.Out, 10*time.Second).Should(gbytes.Say("0/3 instances running\n"))
			startInstance("ca-slow", 0, "cell-a")
			key := unclaimed("ca-slow", 1)
			ik := &models.ActualLRPInstanceKey{InstanceGuid: "ca-slow-1-ig", CellId: "cell-a"}
			Expect(bbsClient.ClaimActualLRP(ctx, "ca-slow", 1, ik)).To(Succeed())
			Expect(bbsClient.CrashActualLRP(ctx, key, ik, "exit status 2")).To(Succeed())
			Eventually(s, 10*time.Second).Should(gexec.Exit(1))
			Expect(string(s.Err.Contents())).To(MatchRegexp(`^diego: timed out after 3s: 1/3 instances running; not running: (1 UNCLAIMED, 1 UNCLAIMED|2 UNCLAIMED), instance 1 crashed 1 time: exit status 2\n$`))
		})
	})

	Describe("scale", func() {
		It("changes the instances and waits for them", func() {
			diego("create-app", "sc-app", "--no-wait", "--", "/bin/app")
			diego("scale", "sc-app", "3", "--no-wait")
			Expect(desiredApp("sc-app").GetInstances()).To(Equal(int32(3)))

			s := start(nil, append(bbsFlags(), "scale", "sc-app", "2")...)
			Eventually(s.Out, 10*time.Second).Should(gbytes.Say("0/2 instances running\n"))
			startInstance("sc-app", 0, "cell-a")
			startInstance("sc-app", 1, "cell-a")
			Eventually(s, 10*time.Second).Should(gexec.Exit(0))
			Expect(string(s.Out.Contents())).To(HaveSuffix("2/2 instances running\n"))
			Expect(desiredApp("sc-app").GetInstances()).To(Equal(int32(2)))
		})

		It("names an app that does not exist and a count that is not one", func() {
			Expect(fails(nil, append(bbsFlags(), "scale", "no-such-app", "2")...)).To(Equal("diego: app no-such-app not found\n"))
			Expect(fails(nil, append(bbsFlags(), "scale", "sc-app", "two")...)).To(ContainSubstring(`instances "two": want a whole number`))
		})
	})

	Describe("remove", func() {
		It("removes the app and waits until its instances are gone", func() {
			diego("create-app", "rm-app", "--instances", "2", "--no-wait", "--", "/bin/app")
			unclaimed("rm-app", 1)
			out := diego("remove", "rm-app")
			Expect(out).To(HaveSuffix("0 instances left\n"))
			Expect(actuals("rm-app")).To(BeEmpty())
			_, err := bbsClient.DesiredLRPByProcessGuid(ctx, "rm-app")
			Expect(err).To(MatchError(models.ErrResourceNotFound))
		})

		It("names an app that does not exist", func() {
			Expect(fails(nil, append(bbsFlags(), "remove", "no-such-app")...)).To(Equal("diego: app no-such-app not found\n"))
		})
	})

	Describe("status", func() {
		It("shows the app and each instance's state, cell, zone, address, crashes and reason", func() {
			r := reptest.New("st-cell", reptest.Options{})
			DeferCleanup(r.Close)
			reptest.RegisterPresence(logger, consulClient, "st-cell", r.URL(), lockTTL, lockRetry)
			diegoWithEnv([]string{"DIEGO_APP_DOMAIN=apps.test"}, "create-app", "st-app", "--instances", "3", "--no-wait", "--", "/bin/app")
			startInstance("st-app", 0, "st-cell")
			key := unclaimed("st-app", 1)
			ik := &models.ActualLRPInstanceKey{InstanceGuid: "st-app-1-ig", CellId: "st-cell"}
			Expect(bbsClient.ClaimActualLRP(ctx, "st-app", 1, ik)).To(Succeed())
			Expect(bbsClient.CrashActualLRP(ctx, key, ik, "exit status 3")).To(Succeed())
			Expect(bbsClient.FailActualLRP(ctx, unclaimed("st-app", 2), "found no compatible cell")).To(Succeed())

			out := diego("status", "st-app")
			Expect(out).To(MatchRegexp(`^APP\s+st-app\ninstances\s+3 desired, 1 running\nrootfs\s+preloaded:busybox\nmemory\s+64 MB\ndisk\s+64 MB\nroutes\s+st-app.apps.test -> 8080\n\n`))
			Expect(out).To(MatchRegexp(`(?m)^INDEX\s+STATE\s+CELL\s+ZONE\s+ADDRESS\s+SINCE\s+CRASHES\s+REASON$`))
			Expect(out).To(MatchRegexp(`(?m)^0\s+RUNNING\s+st-cell\s+z1\s+10\.0\.0\.7:61000\s+\d{4}-\d\d-\d\dT\S+Z\s+0\s*$`))
			// a first crash restarts at once: the instance is UNCLAIMED again, its crash counted
			Expect(out).To(MatchRegexp(`(?m)^1\s+(UNCLAIMED|CRASHED)\s+.*\s1\s+exit status 3$`))
			Expect(out).To(MatchRegexp(`(?m)^2\s+UNCLAIMED\s+\S+\s+0\s+found no compatible cell$`))

			var st struct {
				Name    string `json:"name"`
				Running int    `json:"running"`
				Actual  []struct {
					Index      int32  `json:"index"`
					State      string `json:"state"`
					Cell       string `json:"cell_id"`
					Zone       string `json:"zone"`
					Address    string `json:"address"`
					CrashCount int32  `json:"crash_count"`
				} `json:"actual_lrps"`
			}
			Expect(json.Unmarshal([]byte(diego("status", "st-app", "--json")), &st)).To(Succeed())
			Expect(st.Name).To(Equal("st-app"))
			Expect(st.Running).To(Equal(1))
			Expect(st.Actual).To(HaveLen(3))
			Expect(st.Actual[0].State).To(Equal("RUNNING"))
			Expect(st.Actual[0].Zone).To(Equal("z1"))
			Expect(st.Actual[0].Address).To(Equal("10.0.0.7:61000"))
			Expect(st.Actual[1].CrashCount).To(Equal(int32(1)))
		})

		It("names an app that does not exist", func() {
			Expect(fails(nil, append(bbsFlags(), "status", "no-such-app")...)).To(Equal("diego: app no-such-app not found\n"))
		})
	})

	Describe("run-task", func() {
		It("desires the task and, with --wait, follows it and prints its result", func() {
			s := start(nil, append(bbsFlags(), "run-task", "rt-ok", "--wait", "--result-file", "/tmp/out", "--memory", "32",
				"--download", "http://files.test/x.tgz:/tmp/x", "--", "/bin/sh", "-c", "echo hi > /tmp/out")...)
			Eventually(s.Out, 10*time.Second).Should(gbytes.Say("task rt-ok: Pending\n"))
			t, err := bbsClient.TaskByGuid(ctx, "rt-ok")
			Expect(err).NotTo(HaveOccurred())
			Expect(t.GetDomain()).To(Equal("diego-tasks"))
			Expect(t.GetTaskDefinition().GetResultFile()).To(Equal("/tmp/out"))
			Expect(t.GetTaskDefinition().GetMemoryMb()).To(Equal(int32(32)))
			steps := t.GetTaskDefinition().GetAction().GetSerialAction().GetActions()
			Expect(steps).To(HaveLen(2))
			Expect(steps[0].GetDownloadAction().GetTo()).To(Equal("/tmp/x"))
			Expect(steps[1].GetRunAction().GetArgs()).To(Equal([]string{"-c", "echo hi > /tmp/out"}))

			Expect(bbsClient.StartTask(ctx, "rt-ok", "cell-a")).To(BeTrue())
			Eventually(s.Out, 10*time.Second).Should(gbytes.Say("task rt-ok: Running\n"))
			Expect(bbsClient.CompleteTask(ctx, "rt-ok", "cell-a", false, "", "hi")).To(Succeed())
			Eventually(s, 10*time.Second).Should(gexec.Exit(0))
			Expect(string(s.Out.Contents())).To(HaveSuffix("task rt-ok: Completed\ntask rt-ok succeeded\nhi\n"))
		})

		It("exits non-zero naming why the task failed", func() {
			s := start(nil, append(bbsFlags(), "run-task", "rt-fail", "--wait", "--", "/bin/false")...)
			Eventually(s.Out, 10*time.Second).Should(gbytes.Say("task rt-fail: Pending\n"))
			Expect(bbsClient.StartTask(ctx, "rt-fail", "cell-a")).To(BeTrue())
			Expect(bbsClient.CompleteTask(ctx, "rt-fail", "cell-a", true, "exit status 1", "")).To(Succeed())
			Eventually(s, 10*time.Second).Should(gexec.Exit(1))
			Expect(string(s.Err.Contents())).To(Equal("diego: task rt-fail failed: exit status 1\n"))
		})

		It("returns at once without --wait, and refuses a guid that exists", func() {
			Expect(diego("run-task", "rt-nowait", "--", "/bin/true")).To(BeEmpty())
			Expect(fails(nil, append(bbsFlags(), "run-task", "rt-nowait", "--", "/bin/true")...)).To(Equal("diego: task rt-nowait exists already\n"))
		})
	})

	Describe("logs", func() {
		publish := func(guid string, index int, typ, text string) {
			GinkgoHelper()
			conn, err := nats.Connect(natsURL)
			Expect(err).NotTo(HaveOccurred())
			defer conn.Close()
			b, err := json.Marshal(logstream.Message{AppID: guid, SourceType: "APP/PROC/WEB", SourceInstance: fmt.Sprint(index), MessageType: typ, Message: text})
			Expect(err).NotTo(HaveOccurred())
			Expect(conn.Publish(logstream.Subject(guid), b)).To(Succeed())
			Expect(conn.Flush()).To(Succeed())
		}

		It("follows the app's log lines until interrupted", func() {
			diego("create-app", "lg-app", "--no-wait", "--", "/bin/app")
			diego("create-app", "lg-other", "--no-wait", "--", "/bin/app")
			s := start([]string{"DIEGO_NATS_URL=" + natsURL}, append(bbsFlags(), "logs", "lg-app")...)
			// NATS keeps nothing for a later subscriber: publish until the subscription is there
			Eventually(func() string {
				publish("lg-app", 0, "OUT", "first")
				return string(s.Out.Contents())
			}, 10*time.Second, 200*time.Millisecond).Should(ContainSubstring("[APP/PROC/WEB/0] OUT first\n"))
			publish("lg-other", 0, "OUT", "not this app's")
			publish("lg-app", 3, "ERR", "an error")
			Eventually(s.Out, 5*time.Second).Should(gbytes.Say(`\[APP/PROC/WEB/3\] ERR an error\n`))
			Expect(string(s.Out.Contents())).NotTo(ContainSubstring("not this app's"))
			s.Signal(syscall.SIGINT)
			Eventually(s, 5*time.Second).Should(gexec.Exit(0))
		})

		It("names an app that does not exist, a missing NATS URL and a NATS it cannot reach", func() {
			Expect(fails([]string{"DIEGO_NATS_URL=" + natsURL}, append(bbsFlags(), "logs", "no-such-app")...)).To(Equal("diego: app no-such-app not found\n"))
			Expect(fails(nil, append(bbsFlags(), "logs", "lg-app")...)).To(ContainSubstring("no NATS URL configured: give --nats-url, set DIEGO_NATS_URL"))
			Expect(fails(nil, append(bbsFlags(), "logs", "lg-app", "--nats-url", "nats://127.0.0.1:1")...)).To(ContainSubstring("cannot reach NATS at nats://127.0.0.1:1"))
		})
	})

	It("says it cannot reach the BBS for a command that waits", func() {
		addr := "https://" + daemontest.FreeAddr()
		Expect(fails(nil, "--bbs-url", addr, "--bbs-ca-cert-file", certs.CACert, "--bbs-cert-file", certs.ClientCert, "--bbs-key-file", certs.ClientKey,
			"create-app", "x", "--", "/bin/app")).To(HavePrefix("diego: cannot reach the BBS at " + addr + ": "))
	})
})
