package gardenrunc

import (
	"bytes"
	"log/slog"
	"net"
	"runtime"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

// inFreshNetns runs fn on a thread in a new network namespace, of which the thread is the only
// user: the thread is not given back to Go and goes with the namespace when fn returns.
func inFreshNetns(fn func()) {
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		Expect(unix.Unshare(unix.CLONE_NEWNET)).To(Succeed())
		fn()
	}()
	Eventually(done, 10*time.Second).Should(BeClosed())
}

// renameLoopback gives the namespace's loopback, which rtnetlink cannot delete, the name of a
// veth pair's host end: one that outlives its container and cannot be removed.
func renameLoopback(name string) {
	s, err := nlDial()
	Expect(err).NotTo(HaveOccurred())
	defer s.Close()
	lo, err := net.InterfaceByName("lo")
	Expect(err).NotTo(HaveOccurred())
	Expect(s.do(unix.RTM_NEWLINK, 0, join(ifInfo(int32(lo.Index), 0, 0), attrStr(unix.IFLA_IFNAME, name)))).To(Succeed())
}

var _ = Describe("returning a destroyed container's address to the pool", func() {
	var (
		b    *Backend
		ip   net.IP
		logs bytes.Buffer
	)

	BeforeEach(func() {
		requireRoot()
		// one container address; its host end is looked for in a namespace of the spec's own
		pool, err := NewIPPool("10.252.255.4/30")
		Expect(err).NotTo(HaveOccurred())
		logs.Reset()
		b = &Backend{ips: pool, net: &Network{}, log: slog.New(slog.NewJSONHandler(&logs, nil))}
		ip, err = pool.Acquire()
		Expect(err).NotTo(HaveOccurred())
		Expect(ip.String()).To(Equal("10.252.255.6"))
	})

	It("looks an interface up by name", func() {
		inFreshNetns(func() {
			Expect(nlLinkExists(hostVeth(ip))).To(BeFalse())
			renameLoopback(hostVeth(ip))
			Expect(nlLinkExists(hostVeth(ip))).To(BeTrue())
		})
	})

	It("returns it at once when the host end and the firewall rules are gone", func() {
		inFreshNetns(func() { b.releaseAddress(ip, closed()) })
		Expect(b.ips.Acquire()).To(Equal(ip))
	})

	It("keeps it out of the pool until the firewall rules are gone: a new container's chains have the same names", func() {
		// the host end is gone at once; the rules go 200 ms later
		rulesGone := make(chan struct{})
		meanwhile := make(chan error, 1)
		time.AfterFunc(200*time.Millisecond, func() {
			_, err := b.ips.Acquire()
			meanwhile <- err
			close(rulesGone)
		})
		inFreshNetns(func() { b.releaseAddress(ip, rulesGone) })
		Eventually(meanwhile).Should(Receive(MatchError(ContainSubstring("no free addresses"))))
		Expect(b.ips.Acquire()).To(Equal(ip))
	})

	It("keeps it out of the pool, naming the interface, when the host end cannot be removed", func() {
		inFreshNetns(func() {
			renameLoopback(hostVeth(ip))
			b.releaseAddress(ip, closed())
			Expect(nlLinkExists(hostVeth(ip))).To(BeTrue())
		})
		_, err := b.ips.Acquire()
		Expect(err).To(MatchError(ContainSubstring("no free addresses")))
		Expect(logs.String()).To(ContainSubstring(`"msg":"container-address-withheld"`))
		Expect(logs.String()).To(ContainSubstring(`"interface":"` + hostVeth(ip) + `"`))
	})
})

func closed() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
