package ipfix

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/podflow/podflow/collector"
)

// startPodflow runs podflow's own collector, closed by t's cleanup.
func startPodflow(t *testing.T, listen string, opts ...collector.ListenOption) *collector.Collector {
	t.Helper()
	c, err := collector.Listen(context.Background(), listen, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// receiveRecords reads until done says the records so far are enough.
func receiveRecords(t *testing.T, c *collector.Collector, done func([]collector.Received) bool) []collector.Received {
	t.Helper()
	var got []collector.Received
	deadline := time.After(waitLimit)
	for !done(got) {
		select {
		case r, ok := <-c.Records():
			if !ok {
				t.Fatalf("collector closed after %d records", len(got))
			}
			got = append(got, r)
		case <-deadline:
			t.Fatalf("after %d records: timed out; collector stats %+v", len(got), c.Stats())
		}
	}
	return got
}

// byTemplate returns the records of one template id.
func byTemplate(recs []collector.Received, id uint16) []collector.Received {
	var out []collector.Received
	for _, r := range recs {
		if r.TemplateID == id {
			out = append(out, r)
		}
	}
	return out
}

func flowRecords(recs []collector.Received) []collector.Received {
	var out []collector.Received
	for _, r := range recs {
		if !r.Options {
			out = append(out, r)
		}
	}
	return out
}

// countTemplate returns a done function for receiveRecords: at least n
// records of template id.
func countTemplate(id uint16, n int) func([]collector.Received) bool {
	return func(recs []collector.Received) bool { return len(byTemplate(recs, id)) >= n }
}

// countFlows is countTemplate for flow records of any template.
func countFlows(n int) func([]collector.Received) bool {
	return func(recs []collector.Received) bool { return len(flowRecords(recs)) >= n }
}

// ca is a certificate authority made for one test.
type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
	pool *x509.CertPool
}

func newCA(t *testing.T, name string) *ca {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &ca{cert: cert, key: key, pool: pool, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// issued is a leaf certificate with its key, as tls wants it and as PEM.
type issued struct {
	tls             tls.Certificate
	certPEM, keyPEM []byte
}

// issue signs a certificate for 127.0.0.1, for a server or a client.
func (c *ca) issue(t *testing.T, name string, usage x509.ExtKeyUsage) issued {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	out := issued{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
	if out.tls, err = tls.X509KeyPair(out.certPEM, out.keyPEM); err != nil {
		t.Fatal(err)
	}
	return out
}
