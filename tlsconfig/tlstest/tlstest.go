// Package tlstest writes throwaway certificates for specs: a CA, a server
// certificate for 127.0.0.1 and localhost, a client certificate, and a
// client certificate signed by a different (untrusted) CA.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Files are the paths Generate wrote, all PEM.
type Files struct {
	CACert string // the trusted CA's certificate
	CAKey  string // the trusted CA's key, to sign more certificates

	ServerCert string // signed by the CA; valid for 127.0.0.1, ::1 and localhost
	ServerKey  string

	ClientCert string // signed by the CA
	ClientKey  string

	UntrustedCACert     string // a different CA
	UntrustedClientCert string // signed by the untrusted CA
	UntrustedClientKey  string
}

// Generate writes a fresh set of certificates into dir (which must exist),
// valid from an hour ago for a day.
func Generate(dir string) (Files, error) {
	f := Files{
		CACert:              filepath.Join(dir, "ca.crt"),
		CAKey:               filepath.Join(dir, "ca.key"),
		ServerCert:          filepath.Join(dir, "server.crt"),
		ServerKey:           filepath.Join(dir, "server.key"),
		ClientCert:          filepath.Join(dir, "client.crt"),
		ClientKey:           filepath.Join(dir, "client.key"),
		UntrustedCACert:     filepath.Join(dir, "untrusted-ca.crt"),
		UntrustedClientCert: filepath.Join(dir, "untrusted-client.crt"),
		UntrustedClientKey:  filepath.Join(dir, "untrusted-client.key"),
	}
	ca, err := newCA("diego test CA")
	if err != nil {
		return Files{}, err
	}
	other, err := newCA("untrusted test CA")
	if err != nil {
		return Files{}, err
	}
	server, err := ca.issue("server", true)
	if err != nil {
		return Files{}, err
	}
	client, err := ca.issue("client", false)
	if err != nil {
		return Files{}, err
	}
	untrusted, err := other.issue("untrusted client", false)
	if err != nil {
		return Files{}, err
	}
	for _, w := range []struct {
		path string
		data []byte
	}{
		{f.CACert, ca.certPEM}, {f.CAKey, ca.keyPEM},
		{f.ServerCert, server.certPEM}, {f.ServerKey, server.keyPEM},
		{f.ClientCert, client.certPEM}, {f.ClientKey, client.keyPEM},
		{f.UntrustedCACert, other.certPEM},
		{f.UntrustedClientCert, untrusted.certPEM}, {f.UntrustedClientKey, untrusted.keyPEM},
	} {
		if err := os.WriteFile(w.path, w.data, 0o600); err != nil {
			return Files{}, fmt.Errorf("tlstest: %w", err)
		}
	}
	return f, nil
}

type keyPair struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	keyPEM  []byte
}

func newCA(name string) (*keyPair, error) {
	tmpl := template(name)
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	return sign(tmpl, nil)
}

func (ca *keyPair) issue(name string, server bool) (*keyPair, error) {
	tmpl := template(name)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	return sign(tmpl, ca)
}

func template(name string) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name, Organization: []string{"diego-go tests"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
	}
}

// sign creates a key for tmpl and signs it with parent (self-signed when nil).
func sign(tmpl *x509.Certificate, parent *keyPair) (*keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tlstest: %w", err)
	}
	parentCert, parentKey := tmpl, key
	if parent != nil {
		parentCert, parentKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, &key.PublicKey, parentKey)
	if err != nil {
		return nil, fmt.Errorf("tlstest: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tlstest: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("tlstest: %w", err)
	}
	return &keyPair{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}
