package gardentest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"code.cloudfoundry.org/garden"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"github.com/diego-go/diego/gardenrunc"
	"github.com/diego-go/diego/internal/gardentest"
)

var _ = Describe("a garden server for specs", Ordered, func() {
	var bridge, pool, dir string

	It("runs the test app in a busybox container, reachable on its NetIn port, restarts keeping containers, and dies with them", func() {
		g := gardentest.Start(gardentest.Options{Extra: map[string]any{"max_containers": 7}})
		dir = filepath.Dir(g.Socket)
		capacity, err := g.Client.Capacity()
		Expect(err).NotTo(HaveOccurred())
		Expect(capacity.MaxContainers).To(BeEquivalentTo(7), "Extra is laid over the configuration")

		c, err := g.Client.Create(garden.ContainerSpec{Handle: "gardentest-app"})
		Expect(err).NotTo(HaveOccurred())
		info, err := c.Info()
		Expect(err).NotTo(HaveOccurred())
		bridge = bridgeOf(info.HostIP)
		Expect(bridge).To(HavePrefix("dgk"))
		_, ipnet, _ := net.ParseCIDR(info.HostIP + "/24")
		pool = ipnet.String()
		Expect(pool).To(MatchRegexp(`^10\.251\.\d+\.0/24$`))

		hostPort, _, err := c.NetIn(0, 8080)
		Expect(err).NotTo(HaveOccurred())
		stdout := gbytes.NewBuffer()
		_, err = c.Run(garden.ProcessSpec{Path: gardentest.TestAppPath(), User: "vcap",
			Env: []string{"CF_INSTANCE_INDEX=3", "CF_INSTANCE_GUID=abc"}},
			garden.ProcessIO{Stdout: io.MultiWriter(stdout, GinkgoWriter), Stderr: GinkgoWriter})
		Expect(err).NotTo(HaveOccurred())
		Eventually(stdout, 10*time.Second).Should(gbytes.Say("testapp listening on port 8080"))

		base := fmt.Sprintf("http://%s:%d", g.ExternalIP, hostPort)
		Eventually(func() string { return get(base + "/") }, 10*time.Second, 100*time.Millisecond).Should(Equal("3 abc"))
		env := map[string]string{}
		Expect(json.Unmarshal([]byte(get(base+"/env")), &env)).To(Succeed())
		Expect(env).To(HaveKeyWithValue("CF_INSTANCE_GUID", "abc"))
		Expect(get(base + "/ready?state=fail")).To(Equal("500"))
		Expect(get(base + "/ready")).To(Equal("500"))
		Expect(get(base + "/ready?state=pass")).To(Equal("ready"))
		Expect(get(base + "/log?lines=2&text=hi")).To(Equal("printed 2 lines"))
		Eventually(stdout).Should(gbytes.Say("hi 1\nhi 2\n"))

		g.Kill9()
		g.Restart()
		list, err := g.Client.Containers(nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(list).To(HaveLen(1), "the container survives the server's restart")
		Eventually(func() string { return get(base + "/") }, 10*time.Second, 100*time.Millisecond).Should(Equal("3 abc"))

		g.KillWithContainers()
		Eventually(func() string { return get(base + "/") }, 5*time.Second, 100*time.Millisecond).ShouldNot(Equal("3 abc"),
			"the app died with the server")
		Expect(g.Client.Ping()).NotTo(Succeed())
		g.Restart()
		Consistently(func() string { return get(base + "/") }, time.Second, 200*time.Millisecond).ShouldNot(Equal("3 abc"))
	})

	It("left nothing behind: the previous spec's bridge, chains, cgroups and files are gone", func() {
		if bridge == "" {
			Skip("the previous spec did not run")
		}
		_, err := net.InterfaceByName(bridge)
		Expect(err).To(HaveOccurred(), "bridge "+bridge)
		out, _ := exec.Command("iptables", "-w", "-t", "nat", "-S").Output()
		Expect(string(out)).NotTo(ContainSubstring(bridge+"-"), "chains of the server")
		Expect(string(out)).NotTo(ContainSubstring(pool))
		cg, err := gardenrunc.HostCgroups()
		Expect(err).NotTo(HaveOccurred())
		Expect(cg.Left("diego-gardentest-"+bridge[len("dgk"):], "gardentest-app")).To(BeEmpty())
		Expect(cg.Left("diego-gardentest-"+bridge[len("dgk"):], "")).To(BeEmpty())
		Expect(dir).NotTo(BeAnExistingFile())
	})
})

var _ = Describe("a test process that died before its cleanup", func() {
	It("has its server's containers, network and files removed by the next Start", func() {
		dead := gardentest.Start(gardentest.Options{})
		_, err := dead.Client.Create(garden.ContainerSpec{Handle: "left-behind"})
		Expect(err).NotTo(HaveOccurred())
		info, err := dead.Client.Lookup("left-behind")
		Expect(err).NotTo(HaveOccurred())
		i, err := info.Info()
		Expect(err).NotTo(HaveOccurred())
		bridge := bridgeOf(i.HostIP)
		dead.Kill9()
		// as if its test process had died: the owner file names a process that is gone
		gone := exec.Command("true")
		Expect(gone.Run()).To(Succeed())
		dir := filepath.Dir(dead.Socket)
		Expect(os.WriteFile(filepath.Join(dir, "owner"), []byte(fmt.Sprintf("%d 1", gone.Process.Pid)), 0600)).To(Succeed())
		Expect(filepath.Join(dead.DepotDir, "left-behind")).To(BeADirectory())

		gardentest.Start(gardentest.Options{})
		Expect(dir).NotTo(BeAnExistingFile())
		_, err = net.InterfaceByName(bridge)
		Expect(err).To(HaveOccurred(), "bridge "+bridge)
		cg, err := gardenrunc.HostCgroups()
		Expect(err).NotTo(HaveOccurred())
		Expect(cg.Left("diego-gardentest-"+bridge[len("dgk"):], "left-behind")).To(BeEmpty(), "the container was destroyed")
	})
})

// get answers the body, or the status code when it is not 200.
func get(url string) string {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprint(resp.StatusCode)
	}
	return string(b)
}

// bridgeOf is the host interface that has ip.
func bridgeOf(ip string) string {
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.String() == ip {
				return i.Name
			}
		}
	}
	return ""
}
