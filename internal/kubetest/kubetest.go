// Package kubetest runs a real Kubernetes control plane for tests: etcd and
// kube-apiserver, built from the Go modules in tools/ (the version of
// client-go the detector uses), on 127.0.0.1 with RBAC authorization, a
// static token for the admin and a service-account signing key, so tests can
// act as a ServiceAccount with exactly the chart's permissions. There is no
// scheduler, controller manager or kubelet: objects are stored and
// authorized, nothing runs.
package kubetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/miner-detector/miner-detector/internal/testserver"
)

// ReadyTimeout bounds how long Start waits for the API server.
const ReadyTimeout = 120 * time.Second

const adminToken = "miner-detector-test-admin-token"

// Cluster is a running etcd + kube-apiserver.
type Cluster struct {
	// URL is the API server's https address.
	URL string
	// Admin is a client with system:masters rights.
	Admin kubernetes.Interface
	dir   string
}

// Start builds (first run only) and starts etcd and kube-apiserver, and stops
// them when the test ends. A missing build tool or a failed start fails the
// test with the servers' logs: it never skips.
func Start(t testing.TB) *Cluster {
	t.Helper()
	bin, err := Binaries()
	if err != nil {
		t.Fatalf("kube test binaries: %v", err)
	}
	// Free ports are found by binding and releasing them, so another
	// process may take one in between: then start again on new ports.
	for attempt := 1; ; attempt++ {
		c, err := start(t, bin)
		if err == nil {
			return c
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
	}
}

func start(t testing.TB, bin string) (*Cluster, error) {
	dir := t.TempDir()
	c := &Cluster{dir: dir}

	etcdClient, etcdPeer := freePort(t), freePort(t)
	etcdURL := "http://" + etcdClient
	etcdExited := startProcess(t, dir, "etcd", filepath.Join(bin, "etcd"),
		"--name=default", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls=http://"+etcdPeer, "--initial-advertise-peer-urls=http://"+etcdPeer,
		"--initial-cluster=default=http://"+etcdPeer, "--unsafe-no-fsync", "--log-level=warn")

	keyFile, pubFile := filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	if err := writeKeyPair(keyFile, pubFile); err != nil {
		return nil, err
	}
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(adminToken+`,admin,admin-uid,"system:masters"`+"\n"), 0o600); err != nil {
		return nil, err
	}
	secure := freePort(t)
	_, port, _ := net.SplitHostPort(secure)
	apiExited := startProcess(t, dir, "kube-apiserver", filepath.Join(bin, "kube-apiserver"),
		"--etcd-servers="+etcdURL, "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port="+port, "--cert-dir="+filepath.Join(dir, "certs"),
		"--authorization-mode=RBAC", "--token-auth-file="+tokens,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+pubFile, "--service-account-signing-key-file="+keyFile,
		"--service-cluster-ip-range=10.96.0.0/16",
		// Without a controller manager no namespace gets its "default"
		// ServiceAccount; the tests create pods without one.
		"--disable-admission-plugins=ServiceAccount",
		// 127.0.0.1 is not a valid Service endpoint; nothing needs one.
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false", "--v=0")
	c.URL = "https://" + secure

	admin, err := kubernetes.NewForConfig(c.config(adminToken))
	if err != nil {
		return nil, err
	}
	c.Admin = admin
	if err := c.waitReady(admin, apiExited, etcdExited); err != nil {
		return nil, fmt.Errorf("%w\nkube-apiserver log:\n%s\netcd log:\n%s", err,
			tail(filepath.Join(dir, "kube-apiserver.log"), 4000), tail(filepath.Join(dir, "etcd.log"), 2000))
	}
	return c, nil
}

// config is a client configuration authenticating with token. The serving
// certificate is the API server's self-signed one.
func (c *Cluster) config(token string) *rest.Config {
	return &rest.Config{
		Host: c.URL, BearerToken: token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		QPS:             100, Burst: 200, Timeout: 30 * time.Second,
	}
}

// AdminConfig is a client configuration with system:masters rights, e.g.
// to point a client at a proxy in front of the API server (Host).
func (c *Cluster) AdminConfig() *rest.Config { return c.config(adminToken) }

// ServiceAccount creates (if needed) the ServiceAccount and returns a client
// authenticating with a token issued for it, as a pod's projected token.
func (c *Cluster) ServiceAccount(ctx context.Context, namespace, name string) (*rest.Config, error) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	if _, err := c.Admin.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create serviceaccount %s/%s: %w", namespace, name, err)
	}
	exp := int64(3600)
	tr, err := c.Admin.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("token for serviceaccount %s/%s: %w", namespace, name, err)
	}
	return c.config(tr.Status.Token), nil
}

// Namespace creates a namespace.
func (c *Cluster) Namespace(ctx context.Context, name string) error {
	_, err := c.Admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

func (c *Cluster) waitReady(admin kubernetes.Interface, apiExited, etcdExited <-chan struct{}) error {
	deadline := time.Now().Add(ReadyTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-apiExited:
			return errors.New("kube-apiserver exited before it was ready")
		case <-etcdExited:
			return errors.New("etcd exited before kube-apiserver was ready")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		body, err := admin.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		cancel()
		if err == nil && bytes.HasPrefix(body, []byte("ok")) {
			// RBAC's bootstrap roles are in place once readyz passes.
			return nil
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("kube-apiserver not ready after %v: %v", ReadyTimeout, last)
}

// Binaries returns the directory holding etcd and kube-apiserver, building
// them on first use with scripts/build-kube-test-binaries.sh (cached).
func Binaries() (string, error) {
	return testserver.BuildScript("scripts/build-kube-test-binaries.sh", "the RBAC and leader-election tests need etcd and kube-apiserver")
}

// startProcess starts a server writing to dir/name.log, stopped when the
// test ends; the channel closes when it exits.
func startProcess(t testing.TB, dir, name, binary string, args ...string) <-chan struct{} {
	t.Helper()
	exited, err := testserver.Process(t, filepath.Join(dir, name+".log"), binary, args...)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	return exited
}

func writeKeyPair(keyFile, pubFile string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("service-account key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return fmt.Errorf("service-account key: %w", err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600)
}

func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
