package decoders

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a throwaway CA with a collector certificate for 127.0.0.1 and an
// exporter (client) certificate, as PEM in memory and in files (podflow's
// --collector-ca, --collector-cert and --collector-key take files).
type PKI struct {
	CAPEM                             []byte
	ServerCertPEM, ServerKeyPEM       []byte
	CAFile, ClientCertFile, ClientKey string
	Server, Client                    tls.Certificate
	Pool                              *x509.CertPool // holds the CA only
}

// NewPKI issues the certificates into t's temporary directory.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	caKey, caCert, caDER := issue(t, "podflow test CA", nil, nil, 0)
	p := &PKI{CAPEM: pemBlock("CERTIFICATE", caDER), Pool: x509.NewCertPool()}
	p.Pool.AddCert(caCert)
	serverKey, _, serverDER := issue(t, "collector", caCert, caKey, x509.ExtKeyUsageServerAuth)
	p.ServerCertPEM, p.ServerKeyPEM = pemBlock("CERTIFICATE", serverDER), keyPEM(t, serverKey)
	server, err := tls.X509KeyPair(p.ServerCertPEM, p.ServerKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	p.Server = server
	clientKey, _, clientDER := issue(t, "exporter", caCert, caKey, x509.ExtKeyUsageClientAuth)
	clientCertPEM, clientKeyPEM := pemBlock("CERTIFICATE", clientDER), keyPEM(t, clientKey)
	if p.Client, err = tls.X509KeyPair(clientCertPEM, clientKeyPEM); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p.CAFile, p.ClientCertFile, p.ClientKey = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	for path, data := range map[string][]byte{p.CAFile: p.CAPEM, p.ClientCertFile: clientCertPEM, p.ClientKey: clientKeyPEM} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// CollectorTLS is a server configuration that requires a client
// certificate of the CA, for podflow's own collector.
func (p *PKI) CollectorTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.Server}, ClientCAs: p.Pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
}

// ExporterTLS is the matching client configuration: it trusts only the CA
// and presents the exporter certificate.
func (p *PKI) ExporterTLS() *tls.Config {
	return &tls.Config{RootCAs: p.Pool, Certificates: []tls.Certificate{p.Client}, MinVersion: tls.VersionTLS12}
}

// issue makes a key and a certificate signed by parent (self-signed, a CA,
// when parent is nil).
func issue(t testing.TB, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, usage x509.ExtKeyUsage) (*ecdsa.PrivateKey, *x509.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
		parent, parentKey = tmpl, key
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert, der
}

func keyPEM(t testing.TB, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("EC PRIVATE KEY", der)
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
