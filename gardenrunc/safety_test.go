package gardenrunc_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"code.cloudfoundry.org/garden"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// hostService listens on addr's host at a free port and greets whoever connects; it returns
// the address to dial.
func hostService(host string) string {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(l.Close)
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(conn, "hello from the host")
			conn.Close()
		}
	}()
	return l.Addr().String()
}

// dialFrom connects from the container to addr with busybox nc and says what came back.
func dialFrom(c garden.Container, addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	return sh(c, fmt.Sprintf("nc -w 2 %s %s </dev/null 2>&1; echo status $?", host, port)).stdout
}

var _ = Describe("the host's own services", func() {
	BeforeEach(requireIntegration)

	It("are refused to containers unless allow_host_access is set", func() {
		c := createContainer(garden.ContainerSpec{})
		info, err := c.Info()
		Expect(err).NotTo(HaveOccurred())
		onBridge, onExternal := hostService(info.HostIP), hostService(srv.externalIP)
		for _, addr := range []string{onBridge, onExternal} {
			out := dialFrom(c, addr)
			Expect(out).NotTo(ContainSubstring("hello from the host"), addr)
			Expect(out).To(ContainSubstring("refused"), addr)
		}
		// the host still reaches the container, and the container answers
		_, err = c.Run(garden.ProcessSpec{Path: "/bin/httpd", Args: []string{"-f", "-p", "8080", "-h", "/var/www"}}, garden.ProcessIO{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() string {
			return hostOutput("curl", "-s", "--max-time", "1", "http://"+info.ContainerIP+":8080/index.html")
		}, 5*time.Second).Should(Equal("hello from the container\n"))

		srv.reconfigure("allow_host_access", true)
		DeferCleanup(func() { srv.reconfigure("allow_host_access", nil) })
		for _, addr := range []string{onBridge, onExternal} {
			Expect(dialFrom(c, addr)).To(ContainSubstring("hello from the host\nstatus 0"), addr)
		}
	})
})

var _ = Describe("NetIn", func() {
	BeforeEach(requireIntegration)

	It("answers at the external address only, not at the host's other addresses", func() {
		c := createContainer(garden.ContainerSpec{})
		_, err := c.Run(garden.ProcessSpec{Path: "/bin/httpd", Args: []string{"-f", "-p", "8080", "-h", "/var/www"}}, garden.ProcessIO{})
		Expect(err).NotTo(HaveOccurred())
		hostPort, _, err := c.NetIn(0, 8080)
		Expect(err).NotTo(HaveOccurred())
		info, err := c.Info()
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() string {
			return hostOutput("curl", "-s", "--max-time", "2", fmt.Sprintf("http://%s:%d/index.html", srv.externalIP, hostPort))
		}, 10*time.Second, 100*time.Millisecond).Should(Equal("hello from the container\n"))
		// the bridge's address is the host's too
		out := hostOutput("curl", "-sS", "--max-time", "2", fmt.Sprintf("http://%s:%d/index.html", info.HostIP, hostPort))
		Expect(out).NotTo(ContainSubstring("hello from the container"))
		Expect(out).To(ContainSubstring("Failed to connect"))
		Expect(hostOutput("iptables", "-w", "-t", "nat", "-S", "dg-in-"+ipHex(info.ContainerIP))).
			To(ContainSubstring(fmt.Sprintf("-d %s/32 -p tcp -m tcp --dport %d -j DNAT", srv.externalIP, hostPort)))
	})
})

var _ = Describe("handles and process ids", func() {
	BeforeEach(requireIntegration)

	It("are refused unless plain names, and nothing is made for them", func() {
		for _, h := range []string{"..", "../escape", "a/b", ".hidden", strings.Repeat("h", 129)} {
			_, err := srv.client.Create(garden.ContainerSpec{Handle: h})
			Expect(err).To(MatchError(ContainSubstring(fmt.Sprintf("invalid handle %q", h))))
		}
		Expect(filepath.Join(srv.depot, "..", "escape")).NotTo(BeAnExistingFile())

		c := createContainer(garden.ContainerSpec{})
		for _, id := range []string{"..", ".", "../../x", "a/b", strings.Repeat("p", 129)} {
			_, err := c.Run(garden.ProcessSpec{ID: id, Path: "/bin/true"}, garden.ProcessIO{})
			Expect(err).To(MatchError(ContainSubstring(fmt.Sprintf("invalid process id %q", id))))
		}
		entries, err := os.ReadDir(filepath.Join(srv.depot, c.Handle()))
		Expect(err).NotTo(HaveOccurred())
		for _, e := range entries {
			Expect([]string{"stdout", "stderr", "exit", "x"}).NotTo(ContainElement(e.Name()))
		}
		// an id of letters, digits, '_', '.' and '-' is fine
		Expect(runIn(c, garden.ProcessSpec{ID: "health_check.v1-2", Path: "/bin/true"}, nil).code).To(Equal(0))
	})
})

var _ = Describe("paths in a container's root that are symlinks to host paths", func() {
	var rootfs, secretDir, emptyDir string

	BeforeEach(func() {
		requireIntegration()
		dir := filepath.Join(workDir, "host-links")
		rootfs, secretDir, emptyDir = filepath.Join(dir, "rootfs"), filepath.Join(dir, "secret"), filepath.Join(dir, "empty")
		if _, err := os.Stat(dir); err == nil {
			return // made by an earlier spec of this process
		}
		Expect(makeBusyboxRootFS(rootfs)).To(Succeed())
		Expect(os.MkdirAll(secretDir, 0755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(secretDir, "secret"), []byte("host only\n"), 0644)).To(Succeed())
		Expect(os.MkdirAll(emptyDir, 0777)).To(Succeed())
		// absolute links to host directories, which the root does not have
		Expect(os.Symlink(secretDir, filepath.Join(rootfs, "to-secret"))).To(Succeed())
		Expect(os.Symlink(emptyDir, filepath.Join(rootfs, "to-empty"))).To(Succeed())
		Expect(os.Symlink("../../secret", filepath.Join(rootfs, "tmp", "up-to-secret"))).To(Succeed())
	})

	expectHostUntouched := func() {
		GinkgoHelper()
		entries, err := os.ReadDir(emptyDir)
		Expect(err).NotTo(HaveOccurred())
		Expect(entries).To(BeEmpty())
		Expect(os.ReadFile(filepath.Join(secretDir, "secret"))).To(Equal([]byte("host only\n")))
		entries, err = os.ReadDir(secretDir)
		Expect(err).NotTo(HaveOccurred())
		Expect(entries).To(HaveLen(1))
	}

	It("are never followed out of the root for a bind mount's container-origin source", func() {
		for _, src := range []string{"/to-secret", "/tmp/up-to-secret"} {
			_, err := srv.client.Create(garden.ContainerSpec{RootFSPath: rootfs, BindMounts: []garden.BindMount{
				{SrcPath: src, DstPath: "/mnt/secret", Origin: garden.BindMountOriginContainer}}})
			Expect(err).To(MatchError(ContainSubstring("bind mount source "+src+" does not exist in the container")), src)
		}
		expectHostUntouched()
	})

	It("are followed inside the root for a bind mount's destination", func() {
		src := GinkgoT().TempDir()
		Expect(os.Chmod(src, 0755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(src, "mounted"), []byte("from the host\n"), 0644)).To(Succeed())
		c := createContainer(garden.ContainerSpec{RootFSPath: rootfs, BindMounts: []garden.BindMount{
			{SrcPath: src, DstPath: "/to-empty/sub"}}})
		expectHostUntouched()
		r := sh(c, "cat /to-empty/sub/mounted; cat "+emptyDir+"/sub/mounted")
		Expect(r.stdout).To(Equal("from the host\nfrom the host\n"), r.stderr)
	})

	It("are followed inside the root by StreamIn and StreamOut", func() {
		c := createContainer(garden.ContainerSpec{RootFSPath: rootfs})
		Expect(sh(c, "mkdir -p "+emptyDir+" && chmod 777 "+emptyDir).code).To(Equal(0))
		Expect(c.StreamIn(garden.StreamInSpec{Path: "/to-empty", User: "root", TarStream: tarOf(map[string]string{"planted": "x"})})).To(Succeed())
		expectHostUntouched()
		Expect(sh(c, "cat "+emptyDir+"/planted").stdout).To(Equal("x"))

		out, err := c.StreamOut(garden.StreamOutSpec{Path: "/to-secret/secret", User: "root"})
		if err == nil {
			b, _ := io.ReadAll(out)
			out.Close()
			Expect(string(b)).NotTo(ContainSubstring("host only"))
		}
		expectHostUntouched()
	})
})
