// Package tlstest writes throwaway certificates for specs (made with tlsconfig.NewCA): a CA, a server
// certificate for 127.0.0.1 and localhost, a client certificate, and a
// client certificate signed by a different (untrusted) CA.
package tlstest

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/diego-go/diego/tlsconfig"
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
	const day = 24 * time.Hour
	ca, err := tlsconfig.NewCA("diego test CA", day)
	if err != nil {
		return Files{}, err
	}
	other, err := tlsconfig.NewCA("untrusted test CA", day)
	if err != nil {
		return Files{}, err
	}
	server, err := ca.Issue("server", tlsconfig.ServerUse, day)
	if err != nil {
		return Files{}, err
	}
	client, err := ca.Issue("client", tlsconfig.ClientUse, day)
	if err != nil {
		return Files{}, err
	}
	untrusted, err := other.Issue("untrusted client", tlsconfig.ClientUse, day)
	if err != nil {
		return Files{}, err
	}
	for _, w := range []struct {
		path string
		data []byte
	}{
		{f.CACert, ca.CertPEM}, {f.CAKey, ca.KeyPEM},
		{f.ServerCert, server.CertPEM}, {f.ServerKey, server.KeyPEM},
		{f.ClientCert, client.CertPEM}, {f.ClientKey, client.KeyPEM},
		{f.UntrustedCACert, other.CertPEM},
		{f.UntrustedClientCert, untrusted.CertPEM}, {f.UntrustedClientKey, untrusted.KeyPEM},
	} {
		if err := os.WriteFile(w.path, w.data, 0o600); err != nil {
			return Files{}, fmt.Errorf("tlstest: %w", err)
		}
	}
	return f, nil
}
