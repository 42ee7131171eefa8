package agent

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/podflow/podflow/attach"
	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/exporter/ipfix"
	"github.com/podflow/podflow/exporter/netflow5"
	"github.com/podflow/podflow/exporter/netflow9"
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

// newExporters makes one exporter per collector. Each tells its collector
// the sampling interval, since the kernel counts only the sampled packets.
func newExporters(cfg *config.Config, names *interfaceNames, log *zap.Logger) (*exporter.Fanout, error) {
	f := &exporter.Fanout{Log: log}
	sampling := uint32(cfg.SamplingInterval)
	for _, c := range cfg.Collectors {
		var (
			e   exporter.Exporter
			err error
		)
		switch c.Protocol {
		case "ipfix":
			ic := ipfix.Config{
				Network:             c.Transport,
				Address:             c.Address,
				ObservationDomainID: cfg.ObservationDomain,
				MTU:                 cfg.MTU,
				TemplateRefresh:     cfg.TemplateRefresh,
				EnterpriseNumber:    cfg.EnterpriseNumber,
				NoOptions:           !cfg.IPFIXOptions,
				InterfaceName:       names.lookup,
				SamplingInterval:    sampling,
			}
			if c.Transport == "tls" {
				if ic.TLS, err = collectorTLS(cfg); err != nil {
					break
				}
			}
			e, err = ipfix.New(ic, log.With(zap.String("collector", c.URL)))
		case "netflow9":
			e, err = netflow9.New(netflow9.Config{
				Address:          c.Address,
				SourceID:         cfg.ObservationDomain,
				MTU:              cfg.MTU,
				TemplateRefresh:  cfg.TemplateRefresh,
				SamplingInterval: sampling,
			}, log.With(zap.String("collector", c.URL)))
		case "netflow5":
			e, err = netflow5.New(netflow5.Config{Address: c.Address, MTU: cfg.MTU, SamplingInterval: sampling}, log.With(zap.String("collector", c.URL)))
		default:
			err = fmt.Errorf("protocol %q not supported", c.Protocol)
		}
		if err != nil {
			return nil, errors.Join(fmt.Errorf("collector %s: %w", c.URL, err), f.Close())
		}
		f.Exporters = append(f.Exporters, e)
		f.Names = append(f.Names, c.URL)
	}
	return f, nil
}

func logExporterStats(log *zap.Logger, f *exporter.Fanout) {
	for i := range f.Exporters {
		s := f.Stats(i)
		log.Info("exporter totals", zap.String("collector", f.Names[i]),
			zap.Uint64("records_sent", s.RecordsSent), zap.Uint64("records_lost", s.RecordsLost),
			zap.Uint64("messages_sent", s.MessagesSent), zap.Uint64("send_errors", s.SendErrors),
			zap.Uint64("reconnects", s.Reconnects))
	}
}
