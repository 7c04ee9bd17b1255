package gardenrunc_test

import (
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"code.cloudfoundry.org/garden"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
)

var _ = Describe("limits", func() {
	BeforeEach(requireIntegration)

	It("OOM-kills a memory hog and says so in the exit reason and the container's events", func() {
		c := createContainer(garden.ContainerSpec{Limits: garden.Limits{Memory: garden.MemoryLimits{LimitInBytes: 32 << 20}}})
		r := sh(c, `a=$(head -c 200000000 /dev/zero | tr '\0' x); echo survived ${#a}`)
		Expect(r.code).To(Equal(137))
		Expect(r.stdout).NotTo(ContainSubstring("survived"))
		Expect(r.stderr).To(ContainSubstring("OOM killer"))
		info, err := c.Info()
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Events).To(ContainElement("oom"))
		Expect(c.CurrentMemoryLimits()).To(Equal(garden.MemoryLimits{LimitInBytes: 32 << 20}))
	})

	It("stops a fork bomb at the pid limit", func() {
		c := createContainer(garden.ContainerSpec{Limits: garden.Limits{Pid: garden.PidLimits{Max: 20}}})
		_, err := c.Run(garden.ProcessSpec{Path: "/bin/sh", Args: []string{"-c", `bomb() { bomb | bomb & }; bomb`}}, garden.ProcessIO{})
		Expect(err).NotTo(HaveOccurred())
		Expect(os.ReadFile(cgroupFile(c.Handle(), "pids", "pids.max"))).To(BeEquivalentTo("20\n"))
		Eventually(func() string {
			b, _ := os.ReadFile(cgroupFile(c.Handle(), "pids", "pids.events"))
			return string(b)
		}, 10*time.Second).Should(MatchRegexp(`max [1-9]`))
		Consistently(func() uint64 {
			m, err := c.Metrics()
			Expect(err).NotTo(HaveOccurred())
			Expect(m.PidStat.Max).To(BeEquivalentTo(20))
			return m.PidStat.Current
		}, time.Second, 100*time.Millisecond).Should(BeNumerically("<=", 20))
		// the container is still manageable: Destroy (in cleanup) takes the bomb down
	})

	It("stops a writer at the disk limit", func() {
		c := createContainer(garden.ContainerSpec{Limits: garden.Limits{Disk: garden.DiskLimits{ByteHard: 16 << 20}}})
		r := sh(c, `dd if=/dev/zero of=/big bs=1M count=64 2>&1; echo status $?; ls -l /big`)
		Expect(r.stdout).To(ContainSubstring("No space left on device"))
		Expect(r.stdout).NotTo(ContainSubstring("status 0"))
		m, err := c.Metrics()
		Expect(err).NotTo(HaveOccurred())
		Expect(m.DiskStat.ExclusiveBytesUsed).To(BeNumerically("<=", 16<<20))
		Expect(m.DiskStat.ExclusiveBytesUsed).To(BeNumerically(">", 8<<20))
	})

	It("stops creating files at the inode limit, and leaves the byte limit's room to the files", func() {
		// a 16 MiB ext4 alone has 4096 inodes: 1000 is the limit's, not mkfs' default
		c := createContainer(garden.ContainerSpec{Limits: garden.Limits{Disk: garden.DiskLimits{ByteHard: 16 << 20, InodeHard: 1000}}})
		r := sh(c, `mkdir /many && cd /many && i=0; while true >f$i; do i=$((i+1)); done; echo created $i`)
		Expect(r.stderr).To(ContainSubstring("No space left on device"))
		var created int
		_, err := fmt.Sscanf(r.stdout, "created %d", &created)
		Expect(err).NotTo(HaveOccurred(), r.stdout)
		// the filesystem's own inodes (root, lost+found, the reserved ones, the writable layer's
		// directories) count too; mkfs rounds the count to whole inode table blocks
		Expect(created).To(BeNumerically("<=", 1000))
		Expect(created).To(BeNumerically(">", 950))
		m, err := c.Metrics()
		Expect(err).NotTo(HaveOccurred())
		Expect(m.DiskStat.ExclusiveInodesUsed).To(BeNumerically(">=", created))
		Expect(m.DiskStat.ExclusiveInodesUsed).To(BeNumerically("<=", 1024))

		c = createContainer(garden.ContainerSpec{Limits: garden.Limits{Disk: garden.DiskLimits{ByteHard: 16 << 20, InodeHard: 200000}}})
		r = sh(c, `dd if=/dev/zero of=/big bs=1M count=64 2>&1; ls -l /big`)
		Expect(r.stdout).To(ContainSubstring("No space left on device"))
		m, err = c.Metrics()
		Expect(err).NotTo(HaveOccurred())
		Expect(m.DiskStat.ExclusiveBytesUsed).To(BeNumerically("<=", 16<<20))
		Expect(m.DiskStat.ExclusiveBytesUsed).To(BeNumerically(">", 13<<20))
	})

	It("refuses an inode limit ext4 cannot have, naming it, and makes nothing", func() {
		_, err := srv.client.Create(garden.ContainerSpec{Handle: "too-many-inodes", RootFSPath: "preloaded:busybox",
			Limits: garden.Limits{Disk: garden.DiskLimits{ByteHard: 16 << 20, InodeHard: 1 << 32}}})
		Expect(err).To(MatchError(ContainSubstring("inode_hard 4294967296")))
		Expect(filepath.Join(srv.depot, "too-many-inodes")).NotTo(BeAnExistingFile())
	})

	It("sets the CPU weight as cpu.shares (v1) or runc's cpu.weight for them (v2) and reports metrics from the kernel", func() {
		c := createContainer(garden.ContainerSpec{Limits: garden.Limits{CPU: garden.CPULimits{Weight: 512}}})
		if hostCgroups().Unified() {
			weight, err := os.ReadFile(cgroupFile(c.Handle(), "cpu", "cpu.weight"))
			Expect(err).NotTo(HaveOccurred())
			Expect(strings.TrimSpace(string(weight))).To(BeElementOf(cpuWeights(512)))
		} else {
			shares, err := os.ReadFile(cgroupFile(c.Handle(), "cpu", "cpu.shares"))
			Expect(err).NotTo(HaveOccurred())
			Expect(strings.TrimSpace(string(shares))).To(Equal("512"))
		}
		Expect(sh(c, "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done").code).To(Equal(0))
		bulk, err := srv.client.BulkMetrics([]string{c.Handle()})
		Expect(err).NotTo(HaveOccurred())
		m := bulk[c.Handle()].Metrics
		Expect(m.CPUStat.Usage).To(BeNumerically(">", 0))
		Expect(m.MemoryStat.TotalUsageTowardLimit).To(BeNumerically(">", 0))
		Expect(m.Age).To(BeNumerically(">", 0))
	})
})

// cpuWeights are the cpu.weight values runc writes on v2 for cpu.shares: since runc 1.3.2 a curve
// through 2 -> 1, 1024 -> 100 (v1's default onto v2's) and 262144 -> 10000; before that the linear
// map of 2..262144 onto 1..10000. Which one depends on the host's runc.
func cpuWeights(shares uint64) []string {
	current := uint64(1)
	switch {
	case shares >= 262144:
		current = 10000
	case shares > 2:
		l := math.Log2(float64(shares))
		current = uint64(math.Ceil(math.Pow(10, (l*l+125*l)/612-7.0/34)))
	}
	linear := 1 + (shares-2)*9999/262142
	return []string{strconv.FormatUint(current, 10), strconv.FormatUint(linear, 10)}
}

var _ = Describe("runc's cpu shares to cpu.weight", func() {
	It("maps v1's default onto v2's with the current curve, and the range's ends onto each other", func() {
		Expect(cpuWeights(2)).To(Equal([]string{"1", "1"}))
		Expect(cpuWeights(1024)).To(Equal([]string{"100", "39"}))
		Expect(cpuWeights(2000)).To(Equal([]string{"170", "77"}), "what runc 1.4 and 1.3.1 write")
		Expect(cpuWeights(262144)).To(Equal([]string{"10000", "10000"}))
	})
})

var _ = Describe("network", func() {
	BeforeEach(requireIntegration)

	It("maps a host port to a server in the container, reachable with curl at the host address", func() {
		c := createContainer(garden.ContainerSpec{})
		_, err := c.Run(garden.ProcessSpec{Path: "/bin/httpd", Args: []string{"-f", "-p", "8080", "-h", "/var/www"}}, garden.ProcessIO{})
		Expect(err).NotTo(HaveOccurred())
		hostPort, containerPort, err := c.NetIn(0, 8080)
		Expect(err).NotTo(HaveOccurred())
		Expect(containerPort).To(BeEquivalentTo(8080))
		url := fmt.Sprintf("http://%s:%d/index.html", srv.externalIP, hostPort)
		Eventually(func() string { return hostOutput("curl", "-s", "--max-time", "2", url) }, 10*time.Second, 100*time.Millisecond).
			Should(Equal("hello from the container\n"))
		info, err := c.Info()
		Expect(err).NotTo(HaveOccurred())
		Expect(info.MappedPorts).To(ConsistOf(garden.PortMapping{HostPort: hostPort, ContainerPort: 8080}))
		// the container reaches the host through its gateway
		Expect(sh(c, "ip route | grep default").stdout).To(ContainSubstring(info.HostIP))
	})

	It("keeps the bridge's hardware address whatever its containers' ports are, so that the others can still reach the host when one goes", func() {
		mac := func() string {
			GinkgoHelper()
			b, err := os.ReadFile(filepath.Join("/sys/class/net", srv.bridge, "address"))
			Expect(err).NotTo(HaveOccurred())
			return strings.TrimSpace(string(b))
		}
		c := createContainer(garden.ContainerSpec{})
		info, err := c.Info()
		Expect(err).NotTo(HaveOccurred())
		before := mac()
		// lower than any other port's: a bridge that follows its ports' addresses would take it, and
		// change again when this container goes
		Expect(hostOutput("ip", "link", "set", "dg"+ipHex(info.ContainerIP), "address", "02:00:00:00:00:01")).To(BeEmpty())
		Expect(mac()).To(Equal(before))
		Expect(srv.client.Destroy(c.Handle())).To(Succeed())
		Expect(mac()).To(Equal(before))
	})

	It("reaches at once a container given an address just freed (its hardware address is of its IP)", func() {
		serve := func() (garden.Container, string, string) {
			GinkgoHelper()
			c := createContainer(garden.ContainerSpec{})
			_, err := c.Run(garden.ProcessSpec{Path: "/bin/httpd", Args: []string{"-f", "-p", "8080", "-h", "/var/www"}}, garden.ProcessIO{})
			Expect(err).NotTo(HaveOccurred())
			hostPort, _, err := c.NetIn(0, 8080)
			Expect(err).NotTo(HaveOccurred())
			info, err := c.Info()
			Expect(err).NotTo(HaveOccurred())
			return c, info.ContainerIP, fmt.Sprintf("http://%s:%d/index.html", srv.externalIP, hostPort)
		}
		curl := func(url string) func() string {
			return func() string { return hostOutput("curl", "-s", "--max-time", "1", url) }
		}
		first, ip, url := serve()
		// the host now has a neighbour entry for the address
		Eventually(curl(url), 10*time.Second, 100*time.Millisecond).Should(Equal("hello from the container\n"))
		Expect(srv.client.Destroy(first.Handle())).To(Succeed())

		// the lowest free address is taken next: addresses below ip that earlier specs' containers
		// freed meanwhile are taken first, by containers kept until the spec ends
		var again string
		for range 5 {
			if _, again, url = serve(); again == ip {
				break
			}
		}
		Expect(again).To(Equal(ip), "the freed address given again")
		// a new hardware address would be unreachable until the host's entry expires (5 s and more)
		Eventually(curl(url), 3*time.Second, 100*time.Millisecond).Should(Equal("hello from the container\n"))
	})

	It("answers the first connection to a container given an address that a client was still probing", func() {
		// A client left dialing a destroyed container's address (a router's retries, a lingering
		// connection's retransmissions) keeps the host's neighbour entry for it unresolved,
		// probing every second and failing every third. A container given the address meanwhile
		// answers only the next probe: until then its first connection waits, or fails with "no
		// route to host" when the round it arrived in runs out.

		// the address goes back to the pool once the host end of the veth pair is gone (the
		// server looks every 50 ms at most)
		destroy := func(c garden.Container, ip string) {
			GinkgoHelper()
			Expect(srv.client.Destroy(c.Handle())).To(Succeed())
			Eventually(func() bool {
				_, err := os.Stat(filepath.Join("/sys/class/net", "dg"+ipHex(ip)))
				return os.IsNotExist(err)
			}, 5*time.Second, 5*time.Millisecond).Should(BeTrue())
			time.Sleep(60 * time.Millisecond)
		}
		// each at another point of the round of probes (three, one a second)
		const iterations = 10
		reused := 0
		for i := range iterations {
			a := createContainer(garden.ContainerSpec{})
			info, err := a.Info()
			Expect(err).NotTo(HaveOccurred())
			ip := info.ContainerIP
			destroy(a, ip)
			// as for an address nobody talked to (the rep's health check containers'), or whose
			// entry failed long ago: not the one the previous container at it left
			hostOutput("ip", "neigh", "del", ip, "dev", srv.bridge)

			stop := make(chan struct{})
			probing := make(chan struct{})
			go func() {
				defer close(probing)
				for {
					if conn, err := net.DialTimeout("tcp", net.JoinHostPort(ip, "8080"), 100*time.Millisecond); err == nil {
						conn.Close()
					}
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
			}()
			time.Sleep(time.Duration(i) * 300 * time.Millisecond)
			b := createContainer(garden.ContainerSpec{})
			info, err = b.Info()
			Expect(err).NotTo(HaveOccurred())
			if info.ContainerIP != ip {
				close(stop)
				<-probing
				destroy(b, info.ContainerIP)
				continue // an address an earlier spec freed meanwhile was lower
			}
			reused++
			hostPort, _, err := b.NetIn(0, 8080)
			Expect(err).NotTo(HaveOccurred())
			// busybox's httpd leaves for the background once it listens
			Expect(runIn(b, garden.ProcessSpec{Path: "/bin/httpd", Args: []string{"-p", "8080", "-h", "/var/www"}}, nil).code).To(Equal(0))
			t0 := time.Now()
			conn, err := net.DialTimeout("tcp", net.JoinHostPort(srv.externalIP, strconv.Itoa(int(hostPort))), 3*time.Second)
			took := time.Since(t0)
			close(stop)
			<-probing
			Expect(err).NotTo(HaveOccurred(), "iteration %d, address %s", i, ip)
			conn.Close()
			Expect(took).To(BeNumerically("<", 200*time.Millisecond), "iteration %d, address %s", i, ip)
			destroy(b, ip)
		}
		Expect(reused).To(BeNumerically(">=", iterations/2), "containers given the address just freed")
	})

	It("gives the container an address of the pool and rejects egress not allowed by NetOut", func() {
		c := createContainer(garden.ContainerSpec{})
		info, err := c.Info()
		Expect(err).NotTo(HaveOccurred())
		Expect(sh(c, "ip -4 addr show eth0").stdout).To(ContainSubstring(info.ContainerIP + "/24"))
		Expect(c.NetOut(garden.NetOutRule{Protocol: garden.ProtocolTCP,
			Networks: []garden.IPRange{{Start: []byte{8, 8, 8, 8}, End: []byte{8, 8, 8, 8}}},
			Ports:    []garden.PortRange{{Start: 53, End: 53}}})).To(Succeed())
		rules := hostOutput("iptables", "-w", "-S", "dg-out-"+ipHex(info.ContainerIP))
		Expect(rules).To(ContainSubstring("-d 8.8.8.8/32 -p tcp -m tcp --dport 53 -j ACCEPT"))
		Expect(rules).To(MatchRegexp(`-j REJECT`))
	})
})

var _ = Describe("network isolation", func() {
	BeforeEach(requireIntegration)

	// as guardian's: a container's traffic to another goes through its own egress rules, as to
	// any other host; the one it reaches filters nothing coming in
	It("lets the host reach containers, and containers each other only as the caller's NetOut rules allow", func() {
		a := createContainer(garden.ContainerSpec{})
		b := createContainer(garden.ContainerSpec{})
		infoA, err := a.Info()
		Expect(err).NotTo(HaveOccurred())
		infoB, err := b.Info()
		Expect(err).NotTo(HaveOccurred())
		_, err = b.Run(garden.ProcessSpec{Path: "/bin/httpd", Args: []string{"-f", "-p", "8080", "-h", "/var/www"}}, garden.ProcessIO{})
		Expect(err).NotTo(HaveOccurred())
		_, err = a.Run(garden.ProcessSpec{Path: "/bin/httpd", Args: []string{"-f", "-p", "8080", "-h", "/var/www"}}, garden.ProcessIO{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() string {
			return hostOutput("curl", "-s", "--max-time", "1", "http://"+infoB.ContainerIP+":8080/index.html")
		}, 5*time.Second).Should(Equal("hello from the container\n"), "the host reaches a container")
		get := func(from garden.Container, ip string) string {
			// busybox-static 1.35's wget crashes (SIGSEGV) when given a timeout (-T); nc speaks the HTTP
			return sh(from, `out=$(printf 'GET /index.html HTTP/1.0\r\n\r\n' | nc -w 3 `+ip+` 8080 2>&1); s=$?; echo "$out" | tail -n 1; echo status $s`).stdout
		}
		Expect(get(a, infoB.ContainerIP)).To(SatisfyAll(ContainSubstring("refused"), Not(ContainSubstring("status 0"))),
			"no rule: refused at once, as any egress")

		only := func(ip string) []garden.IPRange {
			return []garden.IPRange{{Start: net.ParseIP(ip), End: net.ParseIP(ip)}}
		}
		Expect(a.NetOut(garden.NetOutRule{Protocol: garden.ProtocolTCP, Networks: only(infoB.ContainerIP),
			Ports: []garden.PortRange{{Start: 8080, End: 8080}}})).To(Succeed())
		Expect(get(a, infoB.ContainerIP)).To(Equal("hello from the container\nstatus 0\n"))
		Expect(sh(a, "nc -w 2 "+infoB.ContainerIP+" 8081 </dev/null 2>&1; echo status $?").stdout).
			To(SatisfyAll(ContainSubstring("refused"), Not(ContainSubstring("status 0"))), "another port of it")
		Expect(get(b, infoA.ContainerIP)).To(SatisfyAll(ContainSubstring("refused"), Not(ContainSubstring("status 0"))),
			"a's rule is not b's")

		// a rule naming the host's address does not open the host's own services
		onBridge := hostService(infoA.HostIP)
		Expect(a.NetOut(garden.NetOutRule{Protocol: garden.ProtocolAll, Networks: only(infoA.HostIP)})).To(Succeed())
		Expect(dialFrom(a, onBridge)).To(SatisfyAll(ContainSubstring("refused"), Not(ContainSubstring("hello from the host"))))
	})
})

var _ = Describe("restarting the garden server", func() {
	BeforeEach(requireIntegration)

	It("keeps running containers listed and usable after kill -9 and a restart", func() {
		c := createContainer(garden.ContainerSpec{Properties: garden.Properties{"survives": "yes"}})
		_, err := c.Run(garden.ProcessSpec{ID: "ticker", Path: "/bin/sh", Args: []string{"-c", "while true; do echo tick; sleep 0.1; done"}}, garden.ProcessIO{})
		Expect(err).NotTo(HaveOccurred())
		_, err = c.Run(garden.ProcessSpec{ID: "short", Path: "/bin/sh", Args: []string{"-c", "sleep 1; echo done-while-down; exit 3"}}, garden.ProcessIO{})
		Expect(err).NotTo(HaveOccurred())
		hostPort, _, err := c.NetIn(0, 8080)
		Expect(err).NotTo(HaveOccurred())

		srv.kill9()
		time.Sleep(1500 * time.Millisecond)
		// a Run the server died in before the init confirmed it: its files, no pid, no exit code
		phantom := filepath.Join(srv.depot, c.Handle(), "processes", "phantom")
		Expect(os.MkdirAll(phantom, 0700)).To(Succeed())
		for _, f := range []string{"stdout", "stderr", "exit"} {
			Expect(os.WriteFile(filepath.Join(phantom, f), nil, 0600)).To(Succeed())
		}
		srv.start(gardenBin)

		list, err := srv.client.Containers(garden.Properties{"survives": "yes"})
		Expect(err).NotTo(HaveOccurred())
		Expect(list).To(HaveLen(1))
		c2 := list[0]
		Expect(c2.Handle()).To(Equal(c.Handle()))
		info, err := c2.Info()
		Expect(err).NotTo(HaveOccurred())
		Expect(info.MappedPorts).To(ContainElement(garden.PortMapping{HostPort: hostPort, ContainerPort: 8080}))
		Expect(info.ProcessIDs).To(ContainElement("ticker"))

		out := gbytes.NewBuffer()
		p, err := c2.Attach("ticker", garden.ProcessIO{Stdout: out})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() int { return strings.Count(string(out.Contents()), "tick") }).Should(BeNumerically(">", 20))

		short := gbytes.NewBuffer()
		ps, err := c2.Attach("short", garden.ProcessIO{Stdout: short})
		Expect(err).NotTo(HaveOccurred())
		Expect(ps.Wait()).To(Equal(3))
		Expect(string(short.Contents())).To(Equal("done-while-down\n"))

		// it is taken for never started, not left running forever
		phantomErr := gbytes.NewBuffer()
		pp, err := c2.Attach("phantom", garden.ProcessIO{Stderr: phantomErr})
		Expect(err).NotTo(HaveOccurred())
		Expect(pp.Wait()).To(Equal(255))
		Expect(string(phantomErr.Contents())).To(ContainSubstring("before the process was confirmed started"))

		Expect(sh(c2, "echo still usable").stdout).To(Equal("still usable\n"))
		_, err = c2.Run(garden.ProcessSpec{Path: "/bin/httpd", Args: []string{"-f", "-p", "8080", "-h", "/var/www"}}, garden.ProcessIO{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() string {
			resp, err := http.Get(fmt.Sprintf("http://%s:%d/index.html", srv.externalIP, hostPort))
			if err != nil {
				return err.Error()
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return string(b)
		}, 10*time.Second, 100*time.Millisecond).Should(Equal("hello from the container\n"))

		Expect(p.Signal(garden.SignalKill)).To(Succeed())
		Expect(p.Wait()).To(Equal(137))
		Expect(srv.client.Destroy(c.Handle())).To(Succeed())
		expectNothingLeft(c.Handle(), info.ContainerIP)
	})
})
