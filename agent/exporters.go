package agent

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/podflow/podflow/attach"
	"github.com/podflow/podflow/config"
)

// interfaceNames names interfaces for the IPFIX options records once the
// watcher exists (the exporters are made before it).
type interfaceNames struct {
	w atomic.Pointer[attach.Watcher]
}

func (n *interfaceNames) lookup(ifindex uint32) (name, description string, ok bool) {
	w := n.w.Load()
	if w == nil {
		return "", "", false
	}
	name, ok = w.Name(ifindex)
	return name, "", ok
}

// collectorTLS builds the TLS configuration of ipfix+tls:// collectors.
func collectorTLS(cfg *config.Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CollectorCA != "" {
		pem, err := os.ReadFile(cfg.CollectorCA)
		if err != nil {
			return nil, fmt.Errorf("--collector-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--collector-ca %s: no PEM certificate in it", cfg.CollectorCA)
		}
		tc.RootCAs = pool
	}
	if (cfg.CollectorCert == "") != (cfg.CollectorKey == "") {
		return nil, fmt.Errorf("--collector-cert and --collector-key go together")
	}
	if cfg.CollectorCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CollectorCert, cfg.CollectorKey)
		if err != nil {
			return nil, fmt.Errorf("--collector-cert/--collector-key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
