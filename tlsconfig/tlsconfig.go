// Package tlsconfig is the project's one place that builds *tls.Config
// values for mutual TLS: servers that require a client certificate signed by
// a CA, and clients that present one and trust only that CA. Every error
// names the file it is about. NewCA and Issue make the certificates: a
// deployment's (deploy/local) and the specs' (tlstest).
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// MinVersion is the lowest TLS version either side accepts.
const MinVersion = tls.VersionTLS12

// Server returns a config for a server that presents the certificate in
// certFile (with its private key in keyFile), and requires and verifies a
// client certificate signed by a CA in caFile. TLS 1.2 is the minimum.
func Server(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := LoadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	pool, err := LoadCAPool(caFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   MinVersion,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}, nil
}

// Client returns a config for a client that presents the certificate in
// certFile (key in keyFile) and trusts only servers whose certificate is
// signed by a CA in caFile. TLS 1.2 is the minimum. Set ServerName on the
// result when the address dialled is not a name or IP in the server's
// certificate.
func Client(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := LoadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	pool, err := LoadCAPool(caFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   MinVersion,
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
	}, nil
}

// OptionalClient is Client for a connection whose mutual TLS is optional in a daemon's config
// (its CA, certificate and key files all set or all empty): nil and no error when caFile is
// empty (plain http).
func OptionalClient(certFile, keyFile, caFile string) (*tls.Config, error) {
	if caFile == "" {
		return nil, nil
	}
	return Client(certFile, keyFile, caFile)
}

// LoadKeyPair reads a PEM certificate (chain) and its PEM private key. The
// error says which of the two files is missing, unreadable or invalid, or
// that the key does not belong to the certificate.
func LoadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := readPEMFile("certificate", certFile, "CERTIFICATE")
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := readPEMFile("private key", keyFile, "")
	if err != nil {
		return tls.Certificate{}, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tlsconfig: certificate file %s with private key file %s: %w", certFile, keyFile, err)
	}
	if _, err := x509.ParseCertificate(cert.Certificate[0]); err != nil {
		return tls.Certificate{}, fmt.Errorf("tlsconfig: certificate file %s is invalid: %w", certFile, err)
	}
	return cert, nil
}

// LoadCAPool reads one or more PEM CA certificates into a pool.
func LoadCAPool(caFile string) (*x509.CertPool, error) {
	data, err := readPEMFile("CA certificate", caFile, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	rest := data
	n := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("tlsconfig: CA certificate file %s is invalid: %w", caFile, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("tlsconfig: CA certificate file %s is invalid: no PEM CERTIFICATE block", caFile)
	}
	return pool, nil
}

// readPEMFile reads path and checks it holds at least one PEM block (of
// wantType, when not empty).
func readPEMFile(what, path, wantType string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("tlsconfig: %s file not configured (empty path)", what)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("tlsconfig: %s file %s does not exist", what, path)
		}
		return nil, fmt.Errorf("tlsconfig: %s file %s is unreadable: %w", what, path, err)
	}
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if wantType == "" || block.Type == wantType {
			return data, nil
		}
	}
	if wantType == "" {
		return nil, fmt.Errorf("tlsconfig: %s file %s is invalid: no PEM block", what, path)
	}
	return nil, fmt.Errorf("tlsconfig: %s file %s is invalid: no PEM %s block", what, path, wantType)
}
