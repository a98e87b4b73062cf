//go:build kubetest

package charts

// A throwaway Kubernetes control plane for the tests in kube_test.go: etcd,
// kube-apiserver (PodSecurity admission on) and kube-controller-manager,
// started from the binaries charts/kube/build-control-plane.sh builds, on
// free loopback ports, with certificates made here in a temporary folder.
// There is no kubelet and no scheduler: Pods are admitted and stored, never
// run. Every process is stopped by PID (its process group) when the test
// ends, pass or fail.

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	"github.com/sealocr/sealocr/core/testkit"
)

// kubeBinEnv names the folder holding etcd, kube-apiserver and
// kube-controller-manager; `make kube-test` sets it.
const kubeBinEnv = "SEALOCR_KUBE_BIN"

// cluster is a running control plane.
type cluster struct {
	kubeconfig string // admin kubeconfig file
	config     *rest.Config
	client     kubernetes.Interface
	dynamic    dynamic.Interface
	dir        string
}

// startCluster starts etcd, the API server and the controller manager, waits
// until the API server is ready and the controllers serve, and registers
// their shutdown with t.Cleanup.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	bin := os.Getenv(kubeBinEnv)
	if bin == "" {
		t.Fatalf("%s is not set: run `make kube-test`, which builds the control plane and sets it", kubeBinEnv)
	}
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager"} {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			t.Fatalf("%s: %v (run `make kube-test`)", name, err)
		}
	}
	dir := t.TempDir()
	pki := writePKI(t, dir)
	start := time.Now()

	etcdClient, etcdPeer := strconv.Itoa(testkit.FreePort(t)), strconv.Itoa(testkit.FreePort(t))
	etcdURL := "http://127.0.0.1:" + etcdClient
	peerURL := "http://127.0.0.1:" + etcdPeer
	etcd := startProcess(t, dir, filepath.Join(bin, "etcd"),
		"--name=kube-test",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=kube-test="+peerURL,
		"--unsafe-no-fsync", // a throwaway store
		"--log-level=warn",
	)

	apiPort := strconv.Itoa(testkit.FreePort(t))
	api := startProcess(t, dir, filepath.Join(bin, "kube-apiserver"),
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+apiPort,
		"--tls-cert-file="+pki.serverCert,
		"--tls-private-key-file="+pki.serverKey,
		"--client-ca-file="+pki.caCert,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+pki.saPub,
		"--service-account-signing-key-file="+pki.saKey,
		"--service-cluster-ip-range=10.96.0.0/16",
		"--authorization-mode=RBAC",
		"--enable-admission-plugins=PodSecurity",
		// No kubelet registers itself: the "kubernetes" endpoints would
		// point at an address nothing serves, and reconciling them fails on
		// a loopback address.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	)

	kubeconfig := writeKubeconfig(t, dir, "https://127.0.0.1:"+apiPort, pki)
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.WarningHandler = rest.NoWarnings{}
	// The leftover check lists every resource kind: no client-side throttling.
	cfg.QPS, cfg.Burst = 500, 1000
	client := kubernetes.NewForConfigOrDie(cfg)
	waitFor(t, 90*time.Second, "the API server's /readyz", []*process{etcd, api}, func(ctx context.Context) error {
		_, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	})
	v, err := client.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kube-apiserver %s ready after %s", v.GitVersion, time.Since(start).Round(100*time.Millisecond))

	kcm := startProcess(t, dir, filepath.Join(bin, "kube-controller-manager"),
		"--kubeconfig="+kubeconfig,
		"--controllers=*,-nodeipam,-nodelifecycle",
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--service-account-private-key-file="+pki.saKey,
		"--root-ca-file="+pki.caCert,
		"--use-service-account-credentials=false",
		// Scale a Deployment to its autoscaler's minimum without waiting.
		"--horizontal-pod-autoscaler-sync-period=1s",
		"--profiling=false",
	)
	// The service account controller gives every namespace its "default"
	// ServiceAccount: when the one of kube-system appears, the controllers
	// are running.
	waitFor(t, 90*time.Second, "the controller manager (default ServiceAccount)", []*process{etcd, api, kcm}, func(ctx context.Context) error {
		_, err := client.CoreV1().ServiceAccounts("kube-system").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	t.Logf("control plane ready after %s", time.Since(start).Round(100*time.Millisecond))

	return &cluster{
		kubeconfig: kubeconfig,
		config:     cfg,
		client:     client,
		dynamic:    dynamic.NewForConfigOrDie(cfg),
		dir:        dir,
	}
}

// installCRD creates the CustomResourceDefinition in file and waits until it
// is served.
func (c *cluster) installCRD(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal(b, &obj); err != nil {
		t.Fatal(err)
	}
	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	ctx := t.Context()
	u := &unstructured.Unstructured{Object: obj}
	if _, err := c.dynamic.Resource(crds).Create(ctx, u, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create CRD %s: %v", u.GetName(), err)
	}
	waitFor(t, 30*time.Second, "CRD "+u.GetName()+" established", nil, func(ctx context.Context) error {
		got, err := c.dynamic.Resource(crds).Get(ctx, u.GetName(), metav1.GetOptions{})
		if err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, cond := range conds {
			m, _ := cond.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return nil
			}
		}
		return errors.New("not established yet")
	})
}

// restrictedNamespace creates a namespace that enforces (and warns and
// audits) the PodSecurity "restricted" level, and waits for its default
// ServiceAccount, without which no Pod that uses it is admitted.
func (c *cluster) restrictedNamespace(t *testing.T, name string) {
	t.Helper()
	ctx := t.Context()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce":         "restricted",
		"pod-security.kubernetes.io/enforce-version": "latest",
		"pod-security.kubernetes.io/warn":            "restricted",
		"pod-security.kubernetes.io/warn-version":    "latest",
		"pod-security.kubernetes.io/audit":           "restricted",
		"pod-security.kubernetes.io/audit-version":   "latest",
	}}}
	if _, err := c.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "ServiceAccount "+name+"/default", nil, func(ctx context.Context) error {
		_, err := c.client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	t.Cleanup(func() {
		// Not waited for: the namespace controller empties it in the background.
		err := c.client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete namespace %s: %v", name, err)
		}
	})
}

// --- processes ----------------------------------------------------------------

// process is a started program whose output goes to a log file.
type process struct {
	*testkit.Process
	name string
	log  string
}

// startProcess starts bin in its own process group and stops the group
// (SIGTERM, then SIGKILL after 10 s) when the test ends; it also dies with
// the test binary (testkit.StartProcess).
func startProcess(t *testing.T, dir, bin string, args ...string) *process {
	t.Helper()
	name := filepath.Base(bin)
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := testkit.StartProcess(name, bin, args, testkit.ProcessOptions{Dir: dir, Stdout: logFile, Stderr: logFile, Group: true})
	if err != nil {
		logFile.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { <-tp.Done(); logFile.Close() }()
	p := &process{Process: tp, name: name, log: logPath}
	t.Logf("started %s (pid %d), log %s", name, tp.Cmd.Process.Pid, logPath)
	t.Cleanup(func() {
		tp.Stop(10 * time.Second)
		if t.Failed() {
			t.Logf("last lines of %s's log:\n%s", name, tail(logPath, 30))
		}
	})
	return p
}

// exited reports whether the process has ended, with its log's tail.
func (p *process) exited() error {
	if !p.Exited() {
		return nil
	}
	return fmt.Errorf("%s exited (%v):\n%s", p.name, p.Err(), tail(p.log, 30))
}

func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// waitFor polls check every 200 ms until it returns nil, fails the test after
// timeout, or at once when one of procs has exited.
func waitFor(t *testing.T, timeout time.Duration, what string, procs []*process, check func(context.Context) error) {
	t.Helper()
	if err := poll(t.Context(), timeout, procs, check); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func poll(ctx context.Context, timeout time.Duration, procs []*process, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		for _, p := range procs {
			if err := p.exited(); err != nil {
				return err
			}
		}
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		err := check(cctx)
		ccancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %s: %w", timeout, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// --- certificates -------------------------------------------------------------

// pki holds the paths of the control plane's keys and certificates.
type pki struct {
	caCert, serverCert, serverKey string
	adminCert, adminKey           string
	saKey, saPub                  string
}

// writePKI makes a CA, the API server's serving certificate (127.0.0.1,
// localhost and the in-cluster names), an admin client certificate
// (group system:masters) and the service account token signing key.
func writePKI(t *testing.T, dir string) pki {
	t.Helper()
	dir = filepath.Join(dir, "pki")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := pki{
		caCert:     filepath.Join(dir, "ca.crt"),
		serverCert: filepath.Join(dir, "apiserver.crt"),
		serverKey:  filepath.Join(dir, "apiserver.key"),
		adminCert:  filepath.Join(dir, "admin.crt"),
		adminKey:   filepath.Join(dir, "admin.key"),
		saKey:      filepath.Join(dir, "sa.key"),
		saPub:      filepath.Join(dir, "sa.pub"),
	}
	now := time.Now()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "kube-test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, p.caCert, "CERTIFICATE", caDER)

	issue := func(certPath, keyPath string, tmpl *x509.Certificate) {
		key := newKey(t)
		tmpl.SerialNumber = serial(t)
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, certPath, "CERTIFICATE", der)
		writePEM(t, keyPath, "PRIVATE KEY", pkcs8(t, key))
	}
	issue(p.serverCert, p.serverKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 96, 0, 1)},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
	})
	issue(p.adminCert, p.adminKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-test-admin", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})

	sa := newKey(t)
	writePEM(t, p.saKey, "PRIVATE KEY", pkcs8(t, sa))
	pub, err := x509.MarshalPKIXPublicKey(sa.Public())
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, p.saPub, "PUBLIC KEY", pub)
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pkcs8(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func serial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeKubeconfig writes an admin kubeconfig for server, used by the
// controller manager and by the tests' clients.
func writeKubeconfig(t *testing.T, dir, server string, p pki) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kube-test"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: p.caCert}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificate: p.adminCert, ClientKey: p.adminKey}
	cfg.Contexts["kube-test"] = &clientcmdapi.Context{Cluster: "kube-test", AuthInfo: "admin"}
	cfg.CurrentContext = "kube-test"
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// warnings collects the warnings the API server sends in its answers
// (PodSecurity's "would violate PodSecurity" among them).
type warnings struct {
	mu   sync.Mutex
	list []string
}

// HandleWarningHeader implements rest.WarningHandler.
func (w *warnings) HandleWarningHeader(code int, agent, text string) {
	if code != 299 || text == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

// take returns the warnings collected so far and forgets them.
func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.list
	w.list = nil
	return l
}
