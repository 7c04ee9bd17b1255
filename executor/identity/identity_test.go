package identity_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/executor/identity"
	"github.com/diego-go/diego/tlsconfig/tlstest"
)

// rsaCA writes a CA with a PKCS#1 RSA key, as upstream's cells are usually given.
func rsaCA(dir string, isCA bool) (certFile, keyFile string) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	Expect(err).NotTo(HaveOccurred())
	template := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "instance identity CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: isCA, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	Expect(err).NotTo(HaveOccurred())
	certFile, keyFile = filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	Expect(os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0600)).To(Succeed())
	Expect(os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0600)).To(Succeed())
	return certFile, keyFile
}

func pool(certFile string) *x509.CertPool {
	b, err := os.ReadFile(certFile)
	Expect(err).NotTo(HaveOccurred())
	p := x509.NewCertPool()
	Expect(p.AppendCertsFromPEM(b)).To(BeTrue())
	return p
}

var _ = Describe("instance identity credentials", func() {
	It("signs a certificate for the instance guid and IP with the organizational units, verifiable against the CA, as upstream's", func() {
		certFile, keyFile := rsaCA(GinkgoT().TempDir(), true)
		ca, err := identity.LoadCA(certFile, keyFile)
		Expect(err).NotTo(HaveOccurred())
		before := time.Now().Truncate(time.Second)
		certPEM, keyPEM, err := ca.Credentials("instance-guid-1", "10.252.3.4", []string{"app:app-guid", "space:space-guid", "organization:org-guid"}, 24*time.Hour)
		Expect(err).NotTo(HaveOccurred())
		after := time.Now()

		leafBlock, rest := pem.Decode(certPEM)
		Expect(leafBlock.Type).To(Equal("CERTIFICATE"))
		caBlock, rest := pem.Decode(rest)
		Expect(caBlock).NotTo(BeNil(), "the CA's certificate follows the instance's")
		Expect(rest).To(BeEmpty())
		caPEM, _ := os.ReadFile(certFile)
		caOnDisk, _ := pem.Decode(caPEM)
		Expect(caBlock.Bytes).To(Equal(caOnDisk.Bytes))

		cert, err := x509.ParseCertificate(leafBlock.Bytes)
		Expect(err).NotTo(HaveOccurred())
		Expect(cert.Subject.CommonName).To(Equal("instance-guid-1"))
		Expect(cert.Subject.OrganizationalUnit).To(Equal([]string{"app:app-guid", "space:space-guid", "organization:org-guid"}))
		Expect(cert.DNSNames).To(Equal([]string{"instance-guid-1"}))
		Expect(cert.IPAddresses).To(HaveLen(1))
		Expect(cert.IPAddresses[0].Equal(net.ParseIP("10.252.3.4"))).To(BeTrue())
		Expect(cert.NotBefore).To(BeTemporally(">=", before))
		Expect(cert.NotBefore).To(BeTemporally("<=", after))
		Expect(cert.NotAfter.Sub(cert.NotBefore)).To(Equal(24 * time.Hour))
		Expect(cert.KeyUsage).To(Equal(x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement))
		Expect(cert.ExtKeyUsage).To(ConsistOf(x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth))
		Expect(cert.SerialNumber.BitLen()).To(BeNumerically(">", 64), "random, not a counter")
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			_, err = cert.Verify(x509.VerifyOptions{Roots: pool(certFile), DNSName: "instance-guid-1", KeyUsages: []x509.ExtKeyUsage{usage}})
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(cert.VerifyHostname("10.252.3.4")).To(Succeed())

		keyBlock, _ := pem.Decode(keyPEM)
		Expect(keyBlock.Type).To(Equal("RSA PRIVATE KEY"))
		key, err := x509.ParsePKCS1PrivateKey(keyBlock.Bytes)
		Expect(err).NotTo(HaveOccurred())
		Expect(key.N.BitLen()).To(Equal(2048))
		_, err = tls.X509KeyPair(certPEM, keyPEM)
		Expect(err).NotTo(HaveOccurred(), "the key is the certificate's")

		again, _, err := ca.Credentials("instance-guid-1", "", nil, time.Minute)
		Expect(err).NotTo(HaveOccurred())
		b, _ := pem.Decode(again)
		second, err := x509.ParseCertificate(b.Bytes)
		Expect(err).NotTo(HaveOccurred())
		Expect(second.IPAddresses).To(BeEmpty(), "no IP, no IP SAN")
		Expect(second.SerialNumber).NotTo(Equal(cert.SerialNumber))
	})

	It("signs with a CA whose key is an ECDSA PKCS#8 key", func() {
		files, err := tlstest.Generate(GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		ca, err := identity.LoadCA(files.CACert, files.CAKey)
		Expect(err).NotTo(HaveOccurred())
		certPEM, _, err := ca.Credentials("g", "127.0.0.1", nil, time.Hour)
		Expect(err).NotTo(HaveOccurred())
		b, _ := pem.Decode(certPEM)
		cert, err := x509.ParseCertificate(b.Bytes)
		Expect(err).NotTo(HaveOccurred())
		_, err = cert.Verify(x509.VerifyOptions{Roots: pool(files.CACert), DNSName: "g"})
		Expect(err).NotTo(HaveOccurred())
		_, err = cert.Verify(x509.VerifyOptions{Roots: pool(files.UntrustedCACert), DNSName: "g"})
		Expect(err).To(HaveOccurred())
	})

	It("refuses a CA it cannot use and credentials it cannot make, saying why", func() {
		dir := GinkgoT().TempDir()
		certFile, keyFile := rsaCA(dir, true)
		Expect(os.Mkdir(filepath.Join(dir, "other"), 0700)).To(Succeed())
		files, err := tlstest.Generate(filepath.Join(dir, "other"))
		Expect(err).NotTo(HaveOccurred())
		junk := filepath.Join(dir, "junk")
		Expect(os.WriteFile(junk, []byte("junk"), 0600)).To(Succeed())
		leafDir := filepath.Join(dir, "leaf")
		Expect(os.Mkdir(leafDir, 0700)).To(Succeed())
		leafCert, leafKey := rsaCA(leafDir, false)

		for _, c := range []struct{ cert, key, complaint string }{
			{filepath.Join(dir, "missing"), keyFile, "instance identity CA certificate: open " + filepath.Join(dir, "missing")},
			{junk, keyFile, "instance identity CA certificate " + junk + " is not a PEM-encoded certificate"},
			{certFile, junk, "instance identity CA key " + junk + " is not PEM-encoded"},
			{certFile, files.CAKey, "instance identity CA key " + files.CAKey + " is not the key of the certificate " + certFile},
			{leafCert, leafKey, "instance identity CA certificate " + leafCert + " is not a CA's"},
		} {
			_, err := identity.LoadCA(c.cert, c.key)
			Expect(err).To(MatchError(ContainSubstring(c.complaint)))
		}

		ca, err := identity.LoadCA(certFile, keyFile)
		Expect(err).NotTo(HaveOccurred())
		_, _, err = ca.Credentials("g", "10.0.0.300", nil, time.Hour)
		Expect(err).To(MatchError(`instance identity credentials for g: "10.0.0.300" is not an IP address`))
		_, _, err = ca.Credentials("g", "", nil, 0)
		Expect(err).To(MatchError("instance identity validity period 0s is not positive"))
		_, _, err = ca.Credentials("", "", nil, time.Hour)
		Expect(err).To(MatchError("instance identity credentials need an instance guid"))
	})
})
