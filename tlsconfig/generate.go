package tlsconfig

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
	"time"
)

// Use is what an issued certificate may authenticate: ServerUse, ClientUse or both (OR them).
type Use int

const (
	// ServerUse certificates are valid for localhost, 127.0.0.1 and ::1.
	ServerUse Use = 1 << iota
	ClientUse
)

// KeyPair is a PEM certificate and its PEM (PKCS #8) private key.
type KeyPair struct {
	CertPEM, KeyPEM []byte

	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// Write writes the certificate and the key to certFile and keyFile (mode 0600), each whole or
// not at all.
func (k *KeyPair) Write(certFile, keyFile string) error {
	for _, f := range []struct {
		path string
		data []byte
	}{{certFile, k.CertPEM}, {keyFile, k.KeyPEM}} {
		tmp := f.path + ".tmp"
		if err := os.WriteFile(tmp, f.data, 0o600); err != nil {
			return fmt.Errorf("tlsconfig: writing %s: %w", f.path, err)
		}
		if err := os.Rename(tmp, f.path); err != nil {
			return fmt.Errorf("tlsconfig: writing %s: %w", f.path, err)
		}
	}
	return nil
}

// NewCA makes a self-signed certificate authority called name (P-256), valid from an hour ago
// (clocks of the machines using it may lag) for validity.
func NewCA(name string, validity time.Duration) (*KeyPair, error) {
	tmpl := certTemplate(name, validity)
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	return sign(tmpl, nil)
}

// Issue makes a certificate for name signed by ca (made by NewCA), valid from an hour ago for
// validity.
func (ca *KeyPair) Issue(name string, use Use, validity time.Duration) (*KeyPair, error) {
	if ca.cert == nil || !ca.cert.IsCA {
		return nil, fmt.Errorf("tlsconfig: issuing %q: the signer is not a CA made by NewCA", name)
	}
	tmpl := certTemplate(name, validity)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if use&ServerUse != 0 {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	}
	if use&ClientUse != 0 {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	return sign(tmpl, ca)
}

func certTemplate(name string, validity time.Duration) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name, Organization: []string{"diego-go"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validity),
	}
}

// sign creates a key for tmpl and signs it with parent (self-signed when nil).
func sign(tmpl *x509.Certificate, parent *KeyPair) (*KeyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tlsconfig: %w", err)
	}
	parentCert, parentKey := tmpl, key
	if parent != nil {
		parentCert, parentKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, &key.PublicKey, parentKey)
	if err != nil {
		return nil, fmt.Errorf("tlsconfig: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tlsconfig: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("tlsconfig: %w", err)
	}
	return &KeyPair{
		cert:    cert,
		key:     key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}
