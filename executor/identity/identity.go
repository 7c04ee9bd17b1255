// Package identity signs the instance identity credentials each container gets (the files
// CF_INSTANCE_CERT and CF_INSTANCE_KEY name) with the CA the cell is configured with, as
// upstream's executor does: a 2048-bit RSA key, and a certificate for the instance guid (its
// common name and DNS name) and the container's IP, with the organizational units the rep asks
// for (app:<guid>, space:<guid>, organization:<guid>), valid for server and client auth from now
// for the validity period, followed by the CA's certificate.
package identity

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// KeyBits is the size of each instance's RSA key (upstream's).
const KeyBits = 2048

// CA signs instance credentials. It is safe for concurrent use.
type CA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// LoadCA reads the CA's certificate and its private key (PKCS#1 RSA as upstream's, or PKCS#8,
// or SEC 1 EC) from PEM files.
func LoadCA(certFile, keyFile string) (*CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("instance identity CA certificate: %w", err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("instance identity CA certificate %s is not a PEM-encoded certificate", certFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("instance identity CA certificate %s: %w", certFile, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("instance identity CA certificate %s is not a CA's (basic constraints)", certFile)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("instance identity CA key: %w", err)
	}
	block, _ = pem.Decode(keyPEM)
	if block == nil {
		return nil, fmt.Errorf("instance identity CA key %s is not PEM-encoded", keyFile)
	}
	key, err := parseKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("instance identity CA key %s: %w", keyFile, err)
	}
	if !publicKeysEqual(key.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("instance identity CA key %s is not the key of the certificate %s", keyFile, certFile)
	}
	return &CA{cert: cert, key: key}, nil
}

func parseKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("not a PKCS#1, SEC 1 or PKCS#8 private key")
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T cannot sign", k)
	}
	return signer, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// Credentials signs a certificate for one instance and returns it (followed by the CA's
// certificate) and its new private key, both PEM-encoded. ip may be empty (no IP SAN).
func (ca *CA) Credentials(instanceGuid, ip string, orgUnits []string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if instanceGuid == "" {
		return nil, nil, errors.New("instance identity credentials need an instance guid")
	}
	if validity <= 0 {
		return nil, nil, fmt.Errorf("instance identity validity period %s is not positive", validity)
	}
	ips := []net.IP{}
	if ip != "" {
		parsed := net.ParseIP(ip)
		if parsed == nil {
			return nil, nil, fmt.Errorf("instance identity credentials for %s: %q is not an IP address", instanceGuid, ip)
		}
		ips = append(ips, parsed)
	}
	key, err := rsa.GenerateKey(rand.Reader, KeyBits)
	if err != nil {
		return nil, nil, err
	}
	serial := make([]byte, 16)
	if _, err := rand.Read(serial); err != nil {
		return nil, nil, err
	}
	now := time.Now()
	template := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(serial),
		Subject:      pkix.Name{CommonName: instanceGuid, OrganizationalUnit: orgUnits},
		DNSNames:     []string{instanceGuid},
		IPAddresses:  ips,
		NotBefore:    now,
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("signing instance identity certificate for %s: %w", instanceGuid, err)
	}
	var chain bytes.Buffer
	pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return chain.Bytes(), keyPEM, nil
}
