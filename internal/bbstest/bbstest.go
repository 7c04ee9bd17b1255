// Package bbstest gives a suite a real BBS of its own: the bbs binary (configured by
// daemontest.BBSConfig) over its own etcd and Consul, started once per suite, and a client of
// it. Specs keep apart by their own guids.
package bbstest

import (
	"crypto/tls"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/locket"
	"github.com/diego-go/diego/tlsconfig"
	"github.com/diego-go/diego/tlsconfig/tlstest"
)

// BBS is a running BBS.
type BBS struct {
	Client *bbs.Client
	// Locket is a client of the BBS's Consul (for cell presences).
	Locket *locket.Client
	URL    string
	// Certs are the BBS's certificates; the client certificate is the one Client uses.
	Certs tlstest.Files
	// TLS is Client's TLS configuration, for other clients of the BBS.
	TLS *tls.Config

	addr string
}

// Start starts etcd, Consul and the bbs binary for the suite; call it in BeforeSuite. extra is
// laid over daemontest.BBSConfig (convergence_interval, ...). Everything stops after the suite,
// even when a spec fails.
func Start(extra map[string]any) *BBS {
	GinkgoHelper()
	bin := daemontest.Build("github.com/diego-go/diego/cmd/bbs")[0]
	dir := GinkgoT().TempDir()
	etcd, err := testservers.StartEtcd(filepath.Join(dir, "etcd"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = etcd.Stop() })
	consul, err := testservers.StartConsul(filepath.Join(dir, "consul"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = consul.Stop() })
	certDir := filepath.Join(dir, "certs")
	Expect(os.MkdirAll(certDir, 0o755)).To(Succeed())
	certs, err := tlstest.Generate(certDir)
	Expect(err).NotTo(HaveOccurred())

	addr := daemontest.FreeAddr()
	daemontest.Start(bin, "-config", daemontest.WriteConfig(daemontest.BBSConfig(addr, etcd.ClientURL(), consul.HTTPAddr(), certs, extra)))
	b := &BBS{URL: "https://" + addr, Certs: certs, addr: addr}
	b.Client = daemontest.ConnectBBS(b.URL, certs)
	b.TLS, err = tlsconfig.Client(certs.ClientCert, certs.ClientKey, certs.CACert)
	Expect(err).NotTo(HaveOccurred())
	b.Locket, err = locket.NewClient(consul.HTTPAddr())
	Expect(err).NotTo(HaveOccurred())
	return b
}

// Relay is a way to the BBS that a spec can cut, as a network or BBS outage would: a TCP relay
// in front of the BBS and a client of the BBS through it.
type Relay struct {
	// Client reaches the BBS while the relay is not cut; it makes one attempt per call.
	Client *bbs.Client

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
}

// Relay starts a relay to the BBS; it stops after the spec.
func (b *BBS) Relay() *Relay {
	GinkgoHelper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	r := &Relay{conns: map[net.Conn]bool{}}
	r.Client = bbs.NewClient("https://"+l.Addr().String(), b.TLS, bbs.WithRetry(1, 0))
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go r.relay(c, b.addr)
		}
	}()
	DeferCleanup(func() {
		_ = l.Close()
		r.Cut()
	})
	return r
}

// Cut closes the relay's connections and refuses new ones until Restore.
func (r *Relay) Cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut = true
	for c := range r.conns {
		_ = c.Close()
	}
	clear(r.conns)
}

// Restore lets the relay's connections through again.
func (r *Relay) Restore() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut = false
}

func (r *Relay) relay(in net.Conn, to string) {
	out, err := net.Dial("tcp", to)
	if err != nil {
		_ = in.Close()
		return
	}
	r.mu.Lock()
	if r.cut {
		r.mu.Unlock()
		_ = in.Close()
		_ = out.Close()
		return
	}
	r.conns[in], r.conns[out] = true, true
	r.mu.Unlock()
	go func() {
		_, _ = io.Copy(out, in)
		_ = out.Close()
	}()
	_, _ = io.Copy(in, out)
	_ = in.Close()
	r.mu.Lock()
	delete(r.conns, in)
	delete(r.conns, out)
	r.mu.Unlock()
}
