// Package kubetest runs a real Kubernetes API server for tests: etcd plus a
// kube-apiserver built from k8s.io/kubernetes (hack/kube-apiserver.sh), on
// loopback ports, with no kubelets and no controller-manager. Pods therefore
// stay Pending until a test writes their status (UpdateStatus), and no
// namespace gets a default ServiceAccount.
//
// RBAC is enforced: Config is an admin (group system:masters), while
// ServiceAccountConfig returns an identity with no rights beyond what the
// test binds to it.
//
// A test either starts its own cluster with Start (about 3 s) or shares one
// per test binary with Shared, which needs kubetest.Main as TestMain; tests
// sharing a cluster keep to their own namespaces and cluster-scoped names.
package kubetest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Cluster is a running etcd and kube-apiserver.
type Cluster struct {
	// Config authenticates as AdminUser, in group system:masters.
	Config *rest.Config
	// Client is a clientset for Config.
	Client kubernetes.Interface
	// Dir holds etcd's data, the API server's certificates and keys, and
	// both servers' logs (etcd.log, kube-apiserver.log).
	Dir string

	etcd, apiserver *process
}

const (
	// AdminUser is the user Config authenticates as.
	AdminUser = "kubetest-admin"
	// ServiceCIDRs is the API server's dual-stack service IP ranges.
	ServiceCIDRs = "10.96.0.0/16,fd96::/112"

	serviceAccountIssuer = "https://kubernetes.default.svc.cluster.local"
	readyTimeout         = 2 * time.Minute
	startAttempts        = 3 // a free port can be taken before the server binds it
)

var errAddrInUse = errors.New("address already in use")

// Start runs a cluster for t in t.TempDir() and stops it in t.Cleanup.
// It calls Require first.
func Start(t testing.TB) *Cluster {
	t.Helper()
	Require(t)
	c, err := start(t.TempDir())
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kube-apiserver log tail:\n%s", c.apiserver.logTail(40))
		}
		c.stop()
	})
	return c
}

func start(dir string) (*Cluster, error) {
	etcdBin, err := etcdPath()
	if err != nil {
		return nil, err
	}
	apiserverBin, err := apiserverPath()
	if err != nil {
		return nil, err
	}
	var errs []error
	for range startAttempts {
		c, err := startIn(dir, etcdBin, apiserverBin)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if !errors.Is(err, errAddrInUse) {
			break
		}
		// Start over in an empty directory on other ports.
		if err := os.RemoveAll(dir); err != nil {
			return nil, errors.Join(append(errs, err)...)
		}
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, errors.Join(append(errs, err)...)
		}
	}
	return nil, errors.Join(errs...)
}

func startIn(dir, etcdBin, apiserverBin string) (*Cluster, error) {
	adminToken, err := writeTokenFile(filepath.Join(dir, "tokens.csv"))
	if err != nil {
		return nil, err
	}
	saKey := filepath.Join(dir, "service-account.key")
	if err := writeServiceAccountKey(saKey); err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	host := "https://127.0.0.1:" + strconv.Itoa(ports[2])

	c := &Cluster{Dir: dir}
	c.etcd, err = startProcess("etcd", filepath.Join(dir, "etcd.log"), etcdBin,
		"--name=kubetest",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=kubetest="+peerURL,
		"--logger=zap",
		"--log-level=warn",
	)
	if err != nil {
		return nil, err
	}
	// The API server retries etcd until it answers: no need to wait here.
	c.apiserver, err = startProcess("kube-apiserver", filepath.Join(dir, "kube-apiserver.log"), apiserverBin,
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(ports[2]),
		// Without it the API server advertises the address of the default
		// route's interface, which a machine without a network lacks; and the
		// kubernetes Service's endpoints may not hold a loopback address.
		"--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none",
		"--cert-dir="+filepath.Join(dir, "certs"),
		"--token-auth-file="+filepath.Join(dir, "tokens.csv"),
		"--authorization-mode=Node,RBAC",
		"--service-account-key-file="+saKey,
		"--service-account-signing-key-file="+saKey,
		"--service-account-issuer="+serviceAccountIssuer,
		// No controller-manager creates the default ServiceAccounts this
		// plugin would insist on.
		"--disable-admission-plugins=ServiceAccount",
		"--service-cluster-ip-range="+ServiceCIDRs,
	)
	if err != nil {
		c.etcd.stop()
		return nil, err
	}
	c.Config, err = c.waitReady(host, adminToken)
	if err == nil {
		c.Client, err = kubernetes.NewForConfig(c.Config)
	}
	if err != nil {
		inUse := c.etcd.addrInUse() || c.apiserver.addrInUse()
		c.stop()
		if inUse {
			return nil, fmt.Errorf("%w: %w", errAddrInUse, err)
		}
		return nil, err
	}
	return c, nil
}

// waitReady polls /readyz until the API server reports every check passed,
// and returns the admin config. The CA is the one the API server generates
// in its --cert-dir: apiserver.crt is the serving certificate followed by
// the CA that signed it.
func (c *Cluster) waitReady(host, adminToken string) (*rest.Config, error) {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last := errors.New("no attempt")
	for {
		select {
		case <-c.etcd.exited:
			return nil, c.etcd.exitError()
		case <-c.apiserver.exited:
			return nil, c.apiserver.exitError()
		case <-ctx.Done():
			return nil, fmt.Errorf("kube-apiserver not ready after %v: %w; log tail:\n%s",
				readyTimeout, last, c.apiserver.logTail(30))
		case <-tick.C:
		}
		// Read the CA every time: the first read may race with its writing.
		ca, err := os.ReadFile(filepath.Join(c.Dir, "certs", "apiserver.crt"))
		if err != nil {
			last = err
			continue
		}
		cfg := &rest.Config{
			Host:            host,
			BearerToken:     adminToken,
			TLSClientConfig: rest.TLSClientConfig{CAData: ca},
			// A private server: client-side throttling would only slow tests.
			QPS:   1000,
			Burst: 1000,
		}
		if last = readyz(ctx, cfg); last == nil {
			return cfg, nil
		}
	}
}

func readyz(ctx context.Context, cfg *rest.Config) error {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Host+"/readyz", nil)
	if err != nil {
		return fmt.Errorf("readyz request: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("readyz: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("readyz: %s: %s", resp.Status, body)
	}
	return nil
}

func (c *Cluster) stop() {
	c.apiserver.stop()
	c.etcd.stop()
}

// writeTokenFile writes --token-auth-file with one admin token
// (token,user,uid,"groups") and returns the token.
func writeTokenFile(path string) (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	token := hex.EncodeToString(b)
	line := fmt.Sprintf("%s,%s,%s,\"system:masters\"\n", token, AdminUser, AdminUser)
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	return token, nil
}

// writeServiceAccountKey writes the key that signs and verifies service
// account tokens. ECDSA because generating it is instant, unlike RSA.
func writeServiceAccountKey(path string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("service account key: %w", err)
	}
	// SEC1, not PKCS#8: --service-account-key-file reads public keys from
	// RSA or EC private keys, but not from PKCS#8 ones.
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("service account key: %w", err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("service account key: %w", err)
	}
	return nil
}
