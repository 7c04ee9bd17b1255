package tlsconfig_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/diego-go/diego/tlsconfig"
	"github.com/diego-go/diego/tlsconfig/tlstest"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("tlsconfig", func() {
	var (
		dir   string
		files tlstest.Files
	)

	BeforeEach(func() {
		dir = GinkgoT().TempDir()
		var err error
		files, err = tlstest.Generate(dir)
		Expect(err).NotTo(HaveOccurred())
	})

	Describe("a real HTTPS server built with Server", func() {
		var server *httptest.Server

		BeforeEach(func() {
			serverConfig, err := tlsconfig.Server(files.ServerCert, files.ServerKey, files.CACert)
			Expect(err).NotTo(HaveOccurred())
			Expect(serverConfig.MinVersion).To(BeNumerically("==", tls.VersionTLS12))
			Expect(serverConfig.ClientAuth).To(Equal(tls.RequireAndVerifyClientCert))

			server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "hello "+r.TLS.PeerCertificates[0].Subject.CommonName)
			}))
			server.TLS = serverConfig
			server.StartTLS()
			DeferCleanup(server.Close)
		})

		get := func(cfg *tls.Config, url string) (string, error) {
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
			defer client.CloseIdleConnections()
			resp, err := client.Get(url)
			if err != nil {
				return "", err
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			return string(body), err
		}

		It("accepts a client presenting a certificate signed by the CA", func() {
			clientConfig, err := tlsconfig.Client(files.ClientCert, files.ClientKey, files.CACert)
			Expect(err).NotTo(HaveOccurred())
			body, err := get(clientConfig, server.URL)
			Expect(err).NotTo(HaveOccurred())
			Expect(body).To(Equal("hello client"))
		})

		It("accepts a certificate Issue made for both uses, from a server holding one too", func() {
			ca, err := tlsconfig.NewCA("component CA", time.Hour)
			Expect(err).NotTo(HaveOccurred())
			caFile := filepath.Join(dir, "component-ca.crt")
			Expect(os.WriteFile(caFile, ca.CertPEM, 0o600)).To(Succeed())
			var files [2][2]string
			for i, name := range []string{"bbs", "rep"} {
				both, err := ca.Issue(name, tlsconfig.ServerUse|tlsconfig.ClientUse, time.Hour)
				Expect(err).NotTo(HaveOccurred())
				files[i] = [2]string{filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")}
				Expect(both.Write(files[i][0], files[i][1])).To(Succeed())
			}
			serverConfig, err := tlsconfig.Server(files[0][0], files[0][1], caFile)
			Expect(err).NotTo(HaveOccurred())
			both := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "hello "+r.TLS.PeerCertificates[0].Subject.CommonName)
			}))
			both.TLS = serverConfig
			both.StartTLS()
			DeferCleanup(both.Close)
			clientConfig, err := tlsconfig.Client(files[1][0], files[1][1], caFile)
			Expect(err).NotTo(HaveOccurred())
			body, err := get(clientConfig, both.URL)
			Expect(err).NotTo(HaveOccurred())
			Expect(body).To(Equal("hello rep"))

			serverOnly, err := ca.Issue("router", tlsconfig.ServerUse, time.Hour)
			Expect(err).NotTo(HaveOccurred())
			Expect(serverOnly.Write(filepath.Join(dir, "router.crt"), filepath.Join(dir, "router.key"))).To(Succeed())
			clientConfig, err = tlsconfig.Client(filepath.Join(dir, "router.crt"), filepath.Join(dir, "router.key"), caFile)
			Expect(err).NotTo(HaveOccurred())
			_, err = get(clientConfig, both.URL)
			Expect(err).To(HaveOccurred(), "a server-only certificate is no client's")
		})

		It("is valid for localhost as well as 127.0.0.1", func() {
			clientConfig, err := tlsconfig.Client(files.ClientCert, files.ClientKey, files.CACert)
			Expect(err).NotTo(HaveOccurred())
			url := "https://localhost:" + server.Listener.Addr().(interface{ String() string }).String()[len("127.0.0.1:"):]
			body, err := get(clientConfig, url)
			Expect(err).NotTo(HaveOccurred())
			Expect(body).To(Equal("hello client"))
		})

		It("refuses a client without a certificate", func() {
			clientConfig, err := tlsconfig.Client(files.ClientCert, files.ClientKey, files.CACert)
			Expect(err).NotTo(HaveOccurred())
			clientConfig.Certificates = nil
			_, err = get(clientConfig, server.URL)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(MatchRegexp(`certificate required|bad certificate|handshake failure`))
		})

		It("refuses a client whose certificate is signed by another CA", func() {
			clientConfig, err := tlsconfig.Client(files.UntrustedClientCert, files.UntrustedClientKey, files.CACert)
			Expect(err).NotTo(HaveOccurred())
			// Go's client leaves out a certificate the server's CA list does
			// not name; present it anyway, as a hostile client would.
			untrusted := clientConfig.Certificates[0]
			presented := false
			clientConfig.Certificates = nil
			clientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				presented = true
				return &untrusted, nil
			}
			_, err = get(clientConfig, server.URL)
			Expect(presented).To(BeTrue())
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(MatchRegexp(`unknown certificate authority|bad certificate`))
		})

		It("refuses TLS 1.1", func() {
			clientConfig, err := tlsconfig.Client(files.ClientCert, files.ClientKey, files.CACert)
			Expect(err).NotTo(HaveOccurred())
			clientConfig.MinVersion = tls.VersionTLS10
			clientConfig.MaxVersion = tls.VersionTLS11
			_, err = get(clientConfig, server.URL)
			Expect(err).To(HaveOccurred())
		})

		It("is not trusted by a client that trusts another CA", func() {
			clientConfig, err := tlsconfig.Client(files.ClientCert, files.ClientKey, files.UntrustedCACert)
			Expect(err).NotTo(HaveOccurred())
			_, err = get(clientConfig, server.URL)
			Expect(err).To(MatchError(ContainSubstring("certificate signed by unknown authority")))
		})
	})

	Describe("OptionalClient", func() {
		It("is nil without a CA file (plain http), Client's config with one", func() {
			c, err := tlsconfig.OptionalClient("", "", "")
			Expect(err).NotTo(HaveOccurred())
			Expect(c).To(BeNil())
			c, err = tlsconfig.OptionalClient(files.ClientCert, files.ClientKey, files.CACert)
			Expect(err).NotTo(HaveOccurred())
			Expect(c.Certificates).To(HaveLen(1))
			Expect(c.RootCAs).NotTo(BeNil())
			_, err = tlsconfig.OptionalClient(filepath.Join(dir, "missing.crt"), files.ClientKey, files.CACert)
			Expect(err).To(MatchError(ContainSubstring("missing.crt")))
		})
	})

	Describe("errors name the file", func() {
		It("names a missing certificate file", func() {
			missing := filepath.Join(dir, "nope.crt")
			_, err := tlsconfig.Server(missing, files.ServerKey, files.CACert)
			Expect(err).To(MatchError(ContainSubstring("certificate file " + missing + " does not exist")))
		})

		It("names a missing key file", func() {
			missing := filepath.Join(dir, "nope.key")
			_, err := tlsconfig.Client(files.ClientCert, missing, files.CACert)
			Expect(err).To(MatchError(ContainSubstring("private key file " + missing + " does not exist")))
		})

		It("names a missing CA file", func() {
			missing := filepath.Join(dir, "nope-ca.crt")
			_, err := tlsconfig.Server(files.ServerCert, files.ServerKey, missing)
			Expect(err).To(MatchError(ContainSubstring("CA certificate file " + missing + " does not exist")))
		})

		It("says when a path is empty", func() {
			_, err := tlsconfig.Server(files.ServerCert, files.ServerKey, "")
			Expect(err).To(MatchError(ContainSubstring("CA certificate file not configured")))
		})

		It("names an unreadable file", func() {
			if os.Geteuid() == 0 {
				Skip("root reads every file")
			}
			Expect(os.Chmod(files.CACert, 0o000)).To(Succeed())
			_, err := tlsconfig.Server(files.ServerCert, files.ServerKey, files.CACert)
			Expect(err).To(MatchError(ContainSubstring("CA certificate file " + files.CACert + " is unreadable")))
		})

		It("names a directory given as a file", func() {
			_, err := tlsconfig.Server(files.ServerCert, files.ServerKey, dir)
			Expect(err).To(MatchError(ContainSubstring("CA certificate file " + dir + " is unreadable")))
		})

		It("names a file that is not PEM", func() {
			garbage := filepath.Join(dir, "garbage.crt")
			Expect(os.WriteFile(garbage, []byte("not a certificate"), 0o600)).To(Succeed())
			_, err := tlsconfig.Server(garbage, files.ServerKey, files.CACert)
			Expect(err).To(MatchError(ContainSubstring("certificate file " + garbage + " is invalid: no PEM CERTIFICATE block")))

			_, err = tlsconfig.Server(files.ServerCert, garbage, files.CACert)
			Expect(err).To(MatchError(ContainSubstring("private key file " + garbage + " is invalid")))

			_, err = tlsconfig.Server(files.ServerCert, files.ServerKey, garbage)
			Expect(err).To(MatchError(ContainSubstring("CA certificate file " + garbage + " is invalid")))
		})

		It("names a CA file holding a key instead of a certificate", func() {
			_, err := tlsconfig.Client(files.ClientCert, files.ClientKey, files.CAKey)
			Expect(err).To(MatchError(ContainSubstring("CA certificate file " + files.CAKey + " is invalid: no PEM CERTIFICATE block")))
		})

		It("names both files when the key does not belong to the certificate", func() {
			_, err := tlsconfig.Server(files.ServerCert, files.ClientKey, files.CACert)
			Expect(err).To(MatchError(SatisfyAll(
				ContainSubstring(files.ServerCert),
				ContainSubstring(files.ClientKey),
			)))
		})

		It("names a CA file whose certificate block is corrupt", func() {
			corrupt := filepath.Join(dir, "corrupt-ca.crt")
			Expect(os.WriteFile(corrupt, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o600)).To(Succeed())
			_, err := tlsconfig.Client(files.ClientCert, files.ClientKey, corrupt)
			Expect(err).To(MatchError(ContainSubstring("CA certificate file " + corrupt + " is invalid")))
		})
	})

	It("refuses to Issue from a certificate that is not a CA, naming the certificate asked for", func() {
		ca, err := tlsconfig.NewCA("component CA", time.Hour)
		Expect(err).NotTo(HaveOccurred())
		leaf, err := ca.Issue("bbs", tlsconfig.ServerUse, time.Hour)
		Expect(err).NotTo(HaveOccurred())
		_, err = leaf.Issue("rep", tlsconfig.ClientUse, time.Hour)
		Expect(err).To(MatchError(`tlsconfig: issuing "rep": the signer is not a CA made by NewCA`))
	})
})
