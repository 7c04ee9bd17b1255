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

	"github.com/diego-go/diego/inigo/world"
	"github.com/diego-go/diego/internal/gardentest"
)

// One app's life through the CLI on the whole system (inigo/world: auctioneer, reps on real
// gardens, route-emitter, router, NATS), configured by an env file as deploy/local writes it.
var _ = Describe("the developer commands on the whole system", Ordered, func() {
	var w *world.World
	var envFile string
	// sys runs the CLI on the world's env file and returns its output; it must succeed.
	sys := func(args ...string) string {
		GinkgoHelper()
		s := run(nil, append([]string{"--env-file", envFile}, args...)...)
		Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))
		return string(s.Out.Contents())
	}

	BeforeAll(func() {
		w = world.Start(world.Options{Cells: 2})
		envFile = filepath.Join(GinkgoT().TempDir(), "diego.env")
		// both BBSs: the CLI uses the one that answers (the leader)
		var bbsURLs []string
		for _, b := range w.BBSServers {
			bbsURLs = append(bbsURLs, fmt.Sprintf("https://%s", b.Config["listen_address"]))
		}
		Expect(os.WriteFile(envFile, []byte(fmt.Sprintf(
			"BBS_URL=%s\nBBS_CA_CERT_FILE=%s\nBBS_CERT_FILE=%s\nBBS_KEY_FILE=%s\nDIEGO_ROUTER_URL=%s\nDIEGO_APP_DOMAIN=apps.test\nDIEGO_NATS_URL=%s\nDIEGO_FILE_SERVER_URL=%s\n",
			strings.Join(bbsURLs, ","), w.Certs.CACert, w.Certs.ClientCert, w.Certs.ClientKey,
			w.Routers[0].URL(), w.NATS.URL(), w.FileServer.URL())), 0o600)).To(Succeed())
	})

	It("creates an app, shows it, follows its logs, scales it and removes it", func() {
		// the app comes from the file server: a script the cells download before running it
		Expect(os.WriteFile(filepath.Join(w.FileServer.Dir, "web.sh"), []byte("exec "+gardentest.TestAppPath()+"\n"), 0o644)).To(Succeed())
		out := sys("create-app", "web", "--instances", "2", "--download", "web.sh:/tmp/app", "--", "/bin/sh", "/tmp/app/web.sh")
		Expect(out).To(HaveSuffix("2/2 instances running\n"))
		// beyond the router's failed_endpoint_backoff (30 s): on a loaded machine a first dial to a
		// new instance can time out, and the router then leaves it out that long
		w.Routers[0].WaitRoutable("web.apps.test", 2, time.Minute)
		Expect(w.Routers[0].Get("web.apps.test", "/").Err).NotTo(HaveOccurred())

		out = sys("status", "web")
		Expect(out).To(MatchRegexp(`(?m)^routes\s+web.apps.test -> 8080$`))
		zones := map[string]string{}
		for _, c := range w.Cells {
			zones[c.ID] = c.Zone
		}
		for _, a := range w.Running("web") {
			cell := a.GetActualLrpInstanceKey().GetCellId()
			Expect(out).To(MatchRegexp(`(?m)^%d\s+RUNNING\s+%s\s+%s\s+%s:%d\s`, a.GetActualLrpKey().GetIndex(),
				cell, zones[cell], a.GetActualLrpNetInfo().GetAddress(), a.GetActualLrpNetInfo().GetPorts()[0].GetHostPort()))
		}

		logs := start(nil, "--env-file", envFile, "logs", "web")
		Eventually(func() string {
			// the subscription is made a moment after start: ask for lines until they arrive
			w.Routers[0].Get("web.apps.test", "/log?text=hello-from-web")
			return string(logs.Out.Contents())
		}, 20*time.Second, 300*time.Millisecond).Should(MatchRegexp(`(?m)^\[APP/PROC/WEB/[01]\] OUT hello-from-web 1$`))
		logs.Signal(syscall.SIGINT)
		Eventually(logs, 5*time.Second).Should(gexec.Exit(0))

		out = sys("scale", "web", "3")
		Expect(out).To(HaveSuffix("3/3 instances running\n"))
		Expect(w.Running("web")).To(HaveLen(3))

		out = sys("cell-states")
		for _, c := range w.Cells {
			Expect(out).To(MatchRegexp(`(?m)^%s\s+%s\s+false\s`, c.ID, c.Zone))
		}

		out = sys("remove", "web")
		Expect(out).To(HaveSuffix("0 instances left\n"))
		Expect(w.Actuals("web")).To(BeEmpty())
		Expect(run(nil, "--env-file", envFile, "status", "web").Err).To(gbytes.Say("app web not found"))
	})

	It("runs a task on a cell and prints its result", func() {
		out := sys("run-task", "sum", "--wait", "--result-file", "/tmp/result", "--", "/bin/sh", "-c", "echo $((40 + 2)) > /tmp/result")
		Expect(out).To(HaveSuffix("task sum: Completed\ntask sum succeeded\n42\n"))
		s := run(nil, "--env-file", envFile, "run-task", "fail", "--wait", "--", "/bin/sh", "-c", "exit 3")
		Expect(s.ExitCode()).To(Equal(1))
		Expect(string(s.Err.Contents())).To(MatchRegexp(`^diego: task fail failed: .*3.*\n$`))
	})

	It("fails naming the auctioneer's placement error", func() {
		DeferCleanup(func() { _ = w.BBS.RemoveDesiredLRP(context.Background(), "huge") })
		s := run(nil, "--env-file", envFile, "create-app", "huge", "--memory", "1000000", "--", gardentest.TestAppPath())
		Expect(s.ExitCode()).To(Equal(1))
		Expect(string(s.Err.Contents())).To(Equal("diego: cannot place every instance of huge: insufficient resources: memory (1 instance)\n"))
	})

	It("follows the standby BBS once the leader is killed", func() {
		leader := w.BBSLeader()
		Expect(leader).NotTo(BeNil())
		leader.Kill9()
		Eventually(func() int { return run(nil, "--env-file", envFile, "domains").ExitCode() }, time.Minute, time.Second).Should(Equal(0))
		Expect(w.BBSLeader()).NotTo(BeIdenticalTo(leader))
		Expect(sys("run-task", "after-failover", "--wait", "--", "/bin/true")).To(HaveSuffix("task after-failover succeeded\n"))
	})
})
