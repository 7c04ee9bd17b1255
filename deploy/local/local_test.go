package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/diego-go/diego/gardenrunc/initproc"
)

// The spec's deployment: prefix, pool and state dir none of a `make up` left running uses. The
// state dir is fixed so that a run killed half-way is cleaned up by the next one.
const (
	stateDir = "/tmp/diego-deploy-local-spec"
	prefix   = "dgspec"
	pool     = "10.248.0.0/16"
)

// portBase is the first of the deployment's 2001 ports, chosen free (freePortBase).
var portBase int

var processes = []string{"etcd", "consul", "nats", "bbs", "auctioneer", "converger", "garden-0", "garden-1",
	"rep-0", "rep-1", "router", "route-emitter", "file-server", "dashboard"}

var _ = Describe("deploy/local", func() {
	// run runs the command (args[0]) with the spec's settings (its port base once chosen), then
	// args[1:], which win.
	run := func(timeout time.Duration, args ...string) *gexec.Session {
		GinkgoHelper()
		all := []string{args[0], "--state-dir", stateDir, "--prefix", prefix, "--pool", pool}
		if portBase != 0 {
			all = append(all, "--port-base", fmt.Sprint(portBase))
		}
		all = append(all, args[1:]...)
		cmd := exec.Command(bin, all...)
		s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(s, timeout).Should(gexec.Exit())
		return s
	}

	It("names a variable that is not a number, and still shows its help", func() {
		GinkgoT().Setenv("DIEGO_LOCAL_CELLS", "two")
		s := run(time.Minute, "up")
		Expect(s.ExitCode()).To(Equal(1))
		Expect(s.Err).To(gbytes.Say(`DIEGO_LOCAL_CELLS="two": `))
		help, err := gexec.Start(exec.Command(bin, "up", "--help"), GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(help, time.Minute).Should(gexec.Exit(0))
		Expect(help.Out).To(gbytes.Say("--cells"))
	})

	It("names bad settings before it looks for a repository to keep its state in", func() {
		cmd := exec.Command(bin, "up", "--port-base", "5")
		cmd.Dir = "/"
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "DIEGO_LOCAL_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(s, time.Minute).Should(gexec.Exit(1))
		Expect(s.Err).To(gbytes.Say("port base 5 must be between 1024 and"))
	})

	It("names every bad setting at once", func() {
		s := run(time.Minute, "up", "--cells", "0", "--prefix", "Not_OK", "--pool", "10.0.0.0/8")
		Expect(s.ExitCode()).To(Equal(1))
		Expect(s.Err).To(gbytes.Say(`prefix "Not_OK" must be`))
		Expect(string(s.Err.Contents())).To(And(ContainSubstring("cells 0 must be between 1 and 5"), ContainSubstring(`pool "10.0.0.0/8" must be a /16`)))
	})

	Describe("on this machine", Ordered, func() {
		var pids map[string]pidFile

		BeforeAll(func() {
			if os.Geteuid() != 0 {
				Skip("the deployment needs root")
			}
			for _, b := range []string{"runc", "busybox"} {
				if _, err := exec.LookPath(b); err != nil {
					Skip(b + " is not installed (make deps installs it)")
				}
			}
			// one deployment spec at a time on the machine: they share the spec's names
			lockPath := filepath.Join(os.TempDir(), "diego-deploy-local-spec.lock")
			for {
				lock, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
				Expect(err).NotTo(HaveOccurred())
				Expect(syscall.Flock(int(lock.Fd()), syscall.LOCK_EX)).To(Succeed())
				// the holder removes the file before it unlocks: a lock on a removed file is none
				held, errHeld := lock.Stat()
				now, errNow := os.Stat(lockPath)
				if errHeld == nil && errNow == nil && os.SameFile(held, now) {
					DeferCleanup(func() {
						Expect(os.Remove(lockPath)).To(Succeed())
						Expect(lock.Close()).To(Succeed())
					})
					break
				}
				lock.Close()
			}
			if portBase = freePortBase(0); portBase == 0 {
				Skip("no range of 2001 free loopback ports at any of the spec's port bases")
			}
			Expect(run(5*time.Minute, "down").ExitCode()).To(Equal(0), "removing what a killed run left")
			DeferCleanup(func() {
				run(5*time.Minute, "down")
				// the built programs too: a test leaves no files behind
				Expect(os.RemoveAll(stateDir)).To(Succeed())
			})
		})

		It("starts everything and the demo app answers through the router", func() {
			s := run(8*time.Minute, "up")
			Expect(s.ExitCode()).To(Equal(0))
			for _, p := range processes {
				Expect(s.Out).To(gbytes.Say(`starting %s \.\.\. ok \(`, p))
			}
			Expect(s.Out).To(gbytes.Say(`demo app     http://demo.localhost:%d/`, portBase+80))
			answers := map[string]bool{}
			for range 10 {
				body := demoAnswer()
				Expect(body).To(MatchRegexp(`^[01] [0-9a-f-]{36}$`))
				answers[body] = true
			}
			Expect(answers).To(HaveLen(2), "both instances answer")

			env, err := os.ReadFile(filepath.Join(stateDir, "env"))
			Expect(err).NotTo(HaveOccurred())
			for _, kv := range []string{
				fmt.Sprintf("BBS_URL=https://127.0.0.1:%d", portBase+30),
				"BBS_CA_CERT_FILE=" + stateDir + "/certs/ca.crt",
				"BBS_CERT_FILE=" + stateDir + "/certs/client.crt",
				"BBS_KEY_FILE=" + stateDir + "/certs/client.key",
				fmt.Sprintf("DIEGO_ROUTER_URL=http://127.0.0.1:%d", portBase+80),
				"DIEGO_APP_DOMAIN=localhost",
				fmt.Sprintf("DIEGO_NATS_URL=nats://127.0.0.1:%d", portBase+20),
				fmt.Sprintf("DIEGO_FILE_SERVER_URL=http://127.0.0.1:%d", portBase+90),
			} {
				Expect(strings.Split(string(env), "\n")).To(ContainElement(kv))
			}
			cells := exec.Command(filepath.Join(stateDir, "bin", "diego"), "cells")
			cells.Env = append(os.Environ(), "DIEGO_ENV_FILE="+filepath.Join(stateDir, "env"))
			out, err := cells.CombinedOutput()
			Expect(err).NotTo(HaveOccurred(), string(out))
			Expect(string(out)).To(And(MatchRegexp(`cell-0\s+z1`), MatchRegexp(`cell-1\s+z2`)))

			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/state", portBase+70))
			Expect(err).NotTo(HaveOccurred())
			state, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.StatusCode).To(Equal(http.StatusOK))
			Expect(string(state)).To(And(ContainSubstring(`"cell-0"`), ContainSubstring(`"demo"`)), "the dashboard shows the cells and the demo app")

			pids = readPids()
			Expect(pids).To(HaveLen(len(processes)))
		})

		It("starts nothing when run again", func() {
			s := run(5*time.Minute, "up")
			Expect(s.ExitCode()).To(Equal(0))
			for _, p := range processes {
				Expect(s.Out).To(gbytes.Say(`%s \.\.\. running already \(pid %d\)`, p, pids[p].Pid))
			}
			Expect(s.Out).To(gbytes.Say("Everything was running already: nothing started."))
			Expect(readPids()).To(Equal(pids))
			Expect(demoAnswer()).To(MatchRegexp(`^[01] `))
		})

		It("starts only what is missing", func() {
			Expect(syscall.Kill(pids["router"].Pid, syscall.SIGKILL)).To(Succeed())
			Eventually(func() bool { return alive(pids["router"]) }, 10*time.Second).Should(BeFalse())
			s := run(5*time.Minute, "up")
			Expect(s.ExitCode()).To(Equal(0))
			Expect(string(s.Out.Contents())).NotTo(ContainSubstring("starting etcd"))
			Expect(s.Out).To(gbytes.Say(`starting router \.\.\. ok`))
			now := readPids()
			Expect(now["router"]).NotTo(Equal(pids["router"]))
			delete(now, "router")
			for name, p := range now {
				Expect(p).To(Equal(pids[name]), name)
			}
			Expect(demoAnswer()).To(MatchRegexp(`^[01] `))
			pids = readPids()
		})

		It("starts nothing where another deployment answers on its ports", func() {
			other := []string{"--state-dir", stateDir + "-other", "--prefix", prefix + "x"}
			DeferCleanup(func() {
				run(5*time.Minute, append([]string{"down"}, other...)...)
				Expect(os.RemoveAll(stateDir + "-other")).To(Succeed())
			})
			s := run(5*time.Minute, append([]string{"up"}, other...)...)
			Expect(s.ExitCode()).To(Equal(1))
			Expect(s.Err).To(gbytes.Say(`something that is not the etcd up started answers its health check: another deployment uses port base %d; choose another --port-base`, portBase))
			Expect(string(s.Out.Contents())).NotTo(ContainSubstring("building"), "it stops before it builds")
			Expect(filepath.Join(stateDir+"-other", "run", "etcd.pid")).NotTo(BeAnExistingFile())
			Expect(filepath.Join(stateDir+"-other", "settings.json")).NotTo(BeAnExistingFile(), "a refused up records nothing")
			Expect(readPids()).To(Equal(pids))
			Expect(demoAnswer()).To(MatchRegexp(`^[01] `))
		})

		// refusedUp runs an up of the state dir other on free ports other than the deployment's,
		// with the spec's settings and then args, which fails. Afterwards a down of other (what
		// an up that was not refused started) and the state dir go.
		refusedUp := func(other string, args ...string) *gexec.Session {
			GinkgoHelper()
			otherBase := freePortBase(portBase)
			if otherBase == 0 {
				Skip("no second range of free loopback ports")
			}
			DeferCleanup(func() {
				run(5*time.Minute, append([]string{"down", "--state-dir", other}, args...)...)
				Expect(os.RemoveAll(other)).To(Succeed())
			})
			s := run(5*time.Minute, append([]string{"up", "--state-dir", other, "--port-base", fmt.Sprint(otherBase)}, args...)...)
			Expect(s.ExitCode()).To(Equal(1))
			return s
		}

		It("starts nothing where a running deployment's cells use the pool", func() {
			other := stateDir + "-pool"
			s := refusedUp(other, "--prefix", prefix+"p")
			Expect(s.Err).To(gbytes.Say(`cell-0's pool 10\.248\.0\.0/24 overlaps the network of %s-0 \(10\.248\.0\.1/24\): another deployment or server uses it; choose another --pool`, prefix))
			Expect(string(s.Out.Contents())).NotTo(ContainSubstring("building"), "it stops before it builds")
			Expect(filepath.Join(other, "settings.json")).NotTo(BeAnExistingFile())
			Expect("/var/lib/" + prefix + "p").NotTo(BeAnExistingFile())
		})

		It("leaves the running deployment alone from another state dir with the same prefix", func() {
			other := stateDir + "-same-prefix"
			s := refusedUp(other)
			Expect(s.Err).To(gbytes.Say(`garden-0's socket /var/lib/%s/cell-0/garden\.sock answers, but up did not start it: another deployment uses prefix %s; choose another --prefix`, prefix, prefix))
			Expect(filepath.Join(other, "settings.json")).NotTo(BeAnExistingFile(), "a refused up records nothing")

			s = run(5*time.Minute, "down", "--state-dir", other)
			Expect(s.ExitCode()).To(Equal(0))
			Expect(s.Out).To(gbytes.Say(`%s has no settings\.json: no up ran from it: leaving /var/lib/%s and the cells' bridges, chains, cgroups and mounts alone`, other, prefix))

			// a state dir that did run up with the prefix, earlier: the owner file names the running one
			recorded, err := json.Marshal(map[string]any{"StateDir": other, "PortBase": portBase, "Prefix": prefix, "Cells": 2, "Pool": pool, "Domain": "localhost"})
			Expect(err).NotTo(HaveOccurred())
			Expect(os.MkdirAll(other, 0o755)).To(Succeed())
			Expect(os.WriteFile(filepath.Join(other, "settings.json"), recorded, 0o600)).To(Succeed())
			// down stops processes by their pid files: it needs none of make deps' binaries
			GinkgoT().Setenv("DIEGO_DEPS_BIN", GinkgoT().TempDir())
			s = run(5*time.Minute, "down", "--state-dir", other)
			Expect(s.ExitCode()).To(Equal(0))
			Expect(s.Out).To(gbytes.Say(`/var/lib/%s belongs to the deployment in %s: leaving`, prefix, stateDir))
			Expect(string(s.Out.Contents())).NotTo(ContainSubstring("destroying"))

			Expect(readPids()).To(Equal(pids))
			for i := range 2 {
				out, err := exec.Command("ip", "-o", "link", "show", fmt.Sprintf("%s-%d", prefix, i)).CombinedOutput()
				Expect(err).NotTo(HaveOccurred(), "the bridge of cell %d stays: %s", i, out)
			}
			Expect(filepath.Join("/var/lib", prefix, "rootfs")).To(BeADirectory())
			Expect(demoAnswer()).To(MatchRegexp(`^[01] `))
		})

		It("stops everything and leaves nothing behind", func() {
			s := run(5*time.Minute, "down")
			Expect(s.ExitCode()).To(Equal(0))
			Expect(s.Out).To(gbytes.Say(`destroying the containers of garden-1 \.\.\. \d+ destroyed`))
			for name, p := range pids {
				Expect(alive(p)).To(BeFalse(), "%s (pid %d) is gone", name, p.Pid)
			}
			mounts, err := os.ReadFile("/proc/self/mounts")
			Expect(err).NotTo(HaveOccurred())
			Expect(string(mounts)).NotTo(ContainSubstring("/var/lib/" + prefix))
			Expect("/var/lib/" + prefix).NotTo(BeAnExistingFile())
			cgroups, err := filepath.Glob("/sys/fs/cgroup/" + prefix + "-*")
			Expect(err).NotTo(HaveOccurred())
			v1, _ := filepath.Glob("/sys/fs/cgroup/*/" + prefix + "-*")
			Expect(append(cgroups, v1...)).To(BeEmpty())
			for _, table := range []string{"filter", "nat"} {
				out, err := exec.Command("iptables", "-w", "-t", table, "-S").CombinedOutput()
				Expect(err).NotTo(HaveOccurred(), string(out))
				Expect(string(out)).NotTo(ContainSubstring(prefix))
			}
			links, err := exec.Command("ip", "-o", "link").CombinedOutput()
			Expect(err).NotTo(HaveOccurred())
			Expect(string(links)).NotTo(ContainSubstring(prefix + "-"))
			entries, err := os.ReadDir(stateDir)
			Expect(err).NotTo(HaveOccurred())
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			Expect(names).To(ConsistOf("bin", "logs"))
		})
	})
})

type pidFile struct {
	Pid   int    `json:"pid"`
	Start string `json:"start"`
}

// readPids reads every pid file of the spec's deployment.
func readPids() map[string]pidFile {
	GinkgoHelper()
	files, err := filepath.Glob(filepath.Join(stateDir, "run", "*.pid"))
	Expect(err).NotTo(HaveOccurred())
	out := map[string]pidFile{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		Expect(err).NotTo(HaveOccurred())
		var p pidFile
		Expect(json.Unmarshal(b, &p)).To(Succeed())
		Expect(alive(p)).To(BeTrue(), f)
		out[strings.TrimSuffix(filepath.Base(f), ".pid")] = p
	}
	return out
}

// alive: the process the pid file names still runs (not a later one with its pid).
func alive(p pidFile) bool {
	start, ok := initproc.ProcStart(p.Pid)
	return ok && start == p.Start
}

// demoAnswer is the demo app's answer through the router at demo.localhost.
func demoAnswer() string {
	GinkgoHelper()
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/", portBase+80), nil)
	Expect(err).NotTo(HaveOccurred())
	req.Host = "demo.localhost"
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	Expect(resp.StatusCode).To(Equal(http.StatusOK), string(b))
	return string(b)
}

// freePortBase is the first of the spec's port bases other than except whose 2001 ports are
// free on loopback (TCP, and UDP for Consul's DNS and serf), or 0. The bases are below the test
// servers' (20000 and up) and clear of a default `make up`'s (18000-20000).
func freePortBase(except int) int {
	for _, base := range []int{14000, 12000, 10000, 16000, 8000, 6000} {
		if base != except && portsFree(base) {
			return base
		}
	}
	return 0
}

func portsFree(base int) bool {
	for port := base; port <= base+2000; port++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return false
		}
		l.Close()
	}
	for port := base + 10; port <= base+14; port++ {
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return false
		}
		u.Close()
	}
	return true
}
