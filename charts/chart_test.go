package charts

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"

	"github.com/sealocr/sealocr/core/testkit"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

const (
	chartDir    = "sealocr"
	releaseName = "ocr"
	namespace   = "prod"
	fullname    = "ocr-sealocr"
)

// valuesCase is a values file of ci/ (or the defaults) and what it promises
// beyond the properties every rendering must have.
type valuesCase struct {
	name  string
	file  string // under sealocr/ci; "" means the chart's defaults
	check func(t *testing.T, m *manifests)
}

var valuesCases = []valuesCase{
	{name: "default", check: checkDefault},
	{name: "public-acme", file: "public-acme-values.yaml", check: checkPublicACME},
	{name: "existing-core", file: "existing-core-values.yaml", check: checkExistingCore},
	{name: "hardened", file: "hardened-values.yaml", check: checkHardened},
	{name: "replicas-redis", file: "replicas-redis-values.yaml", check: checkReplicasRedis},
}

func TestLintStrict(t *testing.T) {
	for _, vc := range valuesCases {
		t.Run(vc.name, func(t *testing.T) {
			l := action.NewLint()
			l.Strict = true
			l.Namespace = namespace
			res := l.Run([]string{chartDir}, readValues(t, vc.file))
			for _, m := range res.Messages {
				t.Logf("lint: %s", m)
			}
			if len(res.Errors) > 0 {
				t.Fatalf("helm lint --strict: %v", res.Errors)
			}
		})
	}
}

func TestRender(t *testing.T) {
	for _, vc := range valuesCases {
		t.Run(vc.name, func(t *testing.T) {
			vals := readValues(t, vc.file)
			m, err := renderChart(loadChart(t), vals)
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, m, effectiveValues(t, vals))
			vc.check(t, m)
		})
	}
}

// TestRefuse renders combinations the chart must refuse, by the schema or by
// sealocr.validate, and checks the message says why.
func TestRefuse(t *testing.T) {
	acme := map[string]any{"tls": map[string]any{"domains": []any{"ocr.example.com"}, "acme": map[string]any{"email": "ops@example.com"}}}
	secretKeys := map[string]any{"keys": map[string]any{"existingSecret": "k"}}
	unsafeReplicas := map[string]any{"unsafeReplicasWithoutRedis": true}
	tests := []struct {
		name string
		vals []map[string]any // merged in order
		want string
	}{
		{"acme several replicas on ReadWriteOnce", []map[string]any{acme, secretKeys, unsafeReplicas, {"replicaCount": 3}}, "ACME with 3 replicas needs certificate storage and locks every pod shares: set redis.enabled=true or redis.url"},
		{"acme autoscaled on ReadWriteOnce", []map[string]any{acme, secretKeys, unsafeReplicas, {"autoscaling": map[string]any{"enabled": true}}}, "redis.enabled=true"},
		{"acme without a volume", []map[string]any{acme, {"persistence": map[string]any{"enabled": false}}}, "tls.mode acme needs persistence.enabled=true"},
		{"acme without domains", []map[string]any{{"tls": map[string]any{"mode": "acme"}}}, "tls.mode acme needs tls.domains"},
		{"domains without e-mail", []map[string]any{{"tls": map[string]any{"domains": []any{"ocr.example.com"}}}}, "tls.acme.email"},
		{"several replicas without Redis", []map[string]any{{"replicaCount": 2, "persistence": map[string]any{"enabled": false}}}, "2 replicas without shared state: each would keep its own replay cache"},
		{"autoscaled without Redis", []map[string]any{{"autoscaling": map[string]any{"enabled": true}, "persistence": map[string]any{"enabled": false}}}, "6 replicas without shared state"},
		{"one ReadWriteOnce volume, several replicas", []map[string]any{secretKeys, unsafeReplicas, {"replicaCount": 2}}, "2 replicas cannot share one ReadWriteOnce volume"},
		{"two Redis", []map[string]any{{"redis": map[string]any{"enabled": true, "url": "redis://r:6379/0"}}}, "set one of them"},
		{"Redis password in the URL", []map[string]any{{"redis": map[string]any{"url": "redis://u:hunter2@r:6379/0"}}}, "redis.url must not carry a password"},
		{"Redis Secret without a URL", []map[string]any{{"redis": map[string]any{"existingSecret": "pw"}}}, "redis.existingSecret is the password of the Redis at redis.url"},
		{"Redis URL scheme", []map[string]any{{"redis": map[string]any{"url": "http://r:6379"}}}, "url"},
		{"rate-limit failure policy", []map[string]any{{"rateLimit": map[string]any{"fail": "maybe"}}}, "fail"},
		{"Redis maxmemory", []map[string]any{{"redis": map[string]any{"maxmemory": "lots"}}}, "maxmemory"},
		{"files without a Secret", []map[string]any{{"tls": map[string]any{"mode": "files"}}}, "tls.mode files needs tls.existingSecret"},
		{"TLS Secret outside files mode", []map[string]any{{"tls": map[string]any{"existingSecret": "x"}}}, "set tls.mode=files"},
		{"legacy CBC without its key", []map[string]any{{"legacyCBC": map[string]any{"enabled": true}}}, "legacyCBC.existingSecret"},
		{"auth without credentials", []map[string]any{{"auth": map[string]any{"mode": "required", "jwt": map[string]any{"issuer": "https://i/"}}}}, "auth.mode required needs a credential source"},
		{"public certificates without auth", []map[string]any{acme}, "tls.mode acme serves public certificates with auth.mode off: anyone on the internet could OCR"},
		{"public certificates with optional auth", []map[string]any{acme, {"auth": map[string]any{"mode": "optional", "apiKeys": map[string]any{"existingSecret": "k"}}}}, "with auth.mode optional"},
		{"OIDC issuer without a client", []map[string]any{{"auth": map[string]any{"mode": "required", "oidc": map[string]any{"issuer": "https://login.example.com"}}}}, "auth.oidc.issuer needs auth.oidc.clientID"},
		{"OIDC issuer over http", []map[string]any{{"auth": map[string]any{"oidc": map[string]any{"issuer": "http://login.example.com", "clientID": "w"}}}}, "issuer"},
		{"JWT Secret without keys named", []map[string]any{{"auth": map[string]any{"jwt": map[string]any{"existingSecret": "jwt"}}}}, "names no key in it"},
		{"unquoted off", []map[string]any{{"auth": map[string]any{"mode": false}}}, "mode"},
		{"bad rate", []map[string]any{{"rateLimit": map[string]any{"rate": "60 per minute"}}}, "rate"},
		{"core on a sidecar port", []map[string]any{{"core": map[string]any{"port": 8443}}}, "core.port 8443 is one of the sidecar's ports"},
		{"existing core without a tag", []map[string]any{{"core": map[string]any{"mode": "existing", "image": map[string]any{"repository": "r.example/ocr"}}}}, "core.image.tag or core.image.digest"},
		{"autoscaling without the Deployment", []map[string]any{secretKeys, {"deployment": map[string]any{"create": false}, "persistence": map[string]any{"enabled": false}, "autoscaling": map[string]any{"enabled": true}}}, "autoscaling.enabled needs deployment.create"},
		// The schema.
		{"unknown key", []map[string]any{{"tls": map[string]any{"domain": "ocr.example.com"}}}, "domain"},
		{"writable root filesystem", []map[string]any{{"securityContext": map[string]any{"readOnlyRootFilesystem": false}}}, "readOnlyRootFilesystem"},
		{"root user", []map[string]any{{"podSecurityContext": map[string]any{"runAsNonRoot": false}}}, "runAsNonRoot"},
		{"added capability", []map[string]any{{"securityContext": map[string]any{"capabilities": map[string]any{"drop": []any{"ALL"}, "add": []any{"NET_ADMIN"}}}}}, "add"},
		{"privileged container port", []map[string]any{{"sidecar": map[string]any{"containerPorts": map[string]any{"https": 443}}}}, "https"},
		{"bad TLS mode", []map[string]any{{"tls": map[string]any{"mode": "self-signed"}}}, "mode"},
	}
	c := loadChart(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals := map[string]any{}
			for _, v := range tt.vals {
				vals = chartutil.MergeTables(deepCopy(t, v), vals)
			}
			_, err := renderChart(c, vals)
			if err == nil {
				t.Fatalf("rendered; want a refusal mentioning %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error does not mention %q:\n%v", tt.want, err)
			}
		})
	}
}

// TestPassthrough renders the TLS passthrough objects of each kind for a
// public release and checks that they route the release's names, by SNI and
// without terminating TLS, to the sidecar's HTTPS port (issue 24, row 10).
func TestPassthrough(t *testing.T) {
	base := map[string]any{
		"tls":  map[string]any{"domains": []any{"ocr.example.com", "ocr2.example.com"}, "acme": map[string]any{"email": "ops@example.com"}},
		"auth": map[string]any{"mode": "required", "apiKeys": map[string]any{"existingSecret": "k"}},
	}
	c := loadChart(t)
	render := func(t *testing.T, pt map[string]any) *manifests {
		t.Helper()
		vals := chartutil.MergeTables(map[string]any{"passthrough": pt}, deepCopy(t, base))
		m, err := renderChart(c, vals)
		if err != nil {
			t.Fatal(err)
		}
		checkInvariants(t, m, effectiveValues(t, vals))
		return m
	}
	hosts := []string{"ocr.example.com", "ocr2.example.com"}

	t.Run("none", func(t *testing.T) {
		m := render(t, map[string]any{"kind": "none"})
		if len(all[networkingv1.Ingress](m))+len(all[ingressRouteTCP](m))+len(all[tlsRoute](m)) != 0 {
			t.Error("passthrough objects rendered with kind none")
		}
	})
	t.Run("ingress-nginx", func(t *testing.T) {
		m := render(t, map[string]any{"kind": "ingress-nginx"})
		ing := all[networkingv1.Ingress](m)
		if len(ing) != 1 {
			t.Fatalf("%d Ingresses", len(ing))
		}
		in := ing[0]
		if in.Annotations["nginx.ingress.kubernetes.io/ssl-passthrough"] != "true" || in.Spec.IngressClassName == nil || *in.Spec.IngressClassName != "nginx" {
			t.Errorf("annotations %v class %v", in.Annotations, in.Spec.IngressClassName)
		}
		var got []string
		for _, r := range in.Spec.Rules {
			got = append(got, r.Host)
			b := r.HTTP.Paths[0].Backend.Service
			if b.Name != fullname || b.Port.Name != "https" {
				t.Errorf("host %s goes to %s:%s, want %s:https", r.Host, b.Name, b.Port.Name, fullname)
			}
		}
		if !slices.Equal(got, hosts) {
			t.Errorf("hosts %v, want %v", got, hosts)
		}
	})
	t.Run("traefik", func(t *testing.T) {
		m := render(t, map[string]any{"kind": "traefik", "hosts": []any{"a.example.com"}})
		r := all[ingressRouteTCP](m)
		if len(r) != 1 {
			t.Fatalf("%d IngressRouteTCPs", len(r))
		}
		s := r[0].Spec
		if !s.TLS.Passthrough || len(s.Routes) != 1 || s.Routes[0].Match != "HostSNI(`a.example.com`)" ||
			s.Routes[0].Services[0].Name != fullname || s.Routes[0].Services[0].Port != 443 || !slices.Equal(s.EntryPoints, []string{"websecure"}) {
			t.Errorf("IngressRouteTCP spec %+v", s)
		}
		m = render(t, map[string]any{"kind": "traefik"})
		if got := all[ingressRouteTCP](m)[0].Spec.Routes[0].Match; got != "HostSNI(`ocr.example.com`) || HostSNI(`ocr2.example.com`)" {
			t.Errorf("match %q", got)
		}
	})
	t.Run("gateway-api", func(t *testing.T) {
		m := render(t, map[string]any{"kind": "gateway-api", "gatewayAPI": map[string]any{"parentRefs": []any{
			map[string]any{"name": "public", "namespace": "gateways", "sectionName": "tls"}}}})
		r := all[tlsRoute](m)
		if len(r) != 1 {
			t.Fatalf("%d TLSRoutes", len(r))
		}
		s := r[0].Spec
		if !slices.Equal(s.Hostnames, hosts) || len(s.ParentRefs) != 1 || s.ParentRefs[0].Name != "public" || s.ParentRefs[0].SectionName != "tls" ||
			s.Rules[0].BackendRefs[0].Name != fullname || s.Rules[0].BackendRefs[0].Port != 443 {
			t.Errorf("TLSRoute spec %+v", s)
		}
	})
	for name, pt := range map[string]map[string]any{
		"gateway-api without a Gateway": {"kind": "gateway-api"},
		"unknown kind":                  {"kind": "haproxy"},
	} {
		t.Run(name, func(t *testing.T) {
			vals := chartutil.MergeTables(map[string]any{"passthrough": pt}, deepCopy(t, base))
			if _, err := renderChart(c, vals); err == nil {
				t.Error("rendered")
			}
		})
	}
	t.Run("no host", func(t *testing.T) {
		_, err := renderChart(c, map[string]any{"passthrough": map[string]any{"kind": "traefik"}})
		if err == nil || !strings.Contains(err.Error(), "routes by host name (SNI): set passthrough.hosts or tls.domains") {
			t.Errorf("err %v", err)
		}
	})
}

// TestOwnDeployment puts the sidecar into a Deployment of a parent chart
// with the named templates, as the chart's README shows.
func TestOwnDeployment(t *testing.T) {
	sub := loadChart(t)
	parent := &chart.Chart{
		Metadata:  &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "myocr", Version: "1.0.0", AppVersion: "7.0"},
		Templates: []*chart.File{{Name: "templates/deployment.yaml", Data: []byte(ownDeployment)}},
		Values: map[string]any{"sealocr": map[string]any{
			"deployment":  map[string]any{"create": false},
			"core":        map[string]any{"mode": "existing", "port": 9000, "image": map[string]any{"repository": "r.example/ocr", "tag": "7.0"}},
			"keys":        map[string]any{"existingSecret": "ocr-keys"},
			"persistence": map[string]any{"enabled": false},
		}},
	}
	parent.AddDependency(sub)
	m, err := renderChart(parent, nil)
	if err != nil {
		t.Fatal(err)
	}
	deps := m.deployments()
	if len(deps) != 1 || deps[0].Name != "myocr" {
		t.Fatalf("want only the parent's Deployment, got %v", names(deps))
	}
	d := deps[0]
	sc := container(t, &d.Spec.Template.Spec, "sidecar")
	if got := env(sc, "SEALOCR_UPSTREAM"); got != "http://127.0.0.1:9000" {
		t.Errorf("SEALOCR_UPSTREAM = %q", got)
	}
	if sc.Image != "ghcr.io/sealocr/sidecar:0.1.0" {
		t.Errorf("sidecar image %q: want the sealocr chart's appVersion", sc.Image)
	}
	checkPodHardened(t, "Deployment myocr", d.Spec.Template.Spec, d.Spec.Template.Spec.SecurityContext)
	checkVolumesResolve(t, "Deployment myocr", d.Spec.Template.Spec)
	svc := m.service(t, fullname)
	if !selects(svc.Spec.Selector, d.Spec.Template.Labels) {
		t.Errorf("Service selector %v does not select the parent's pods %v", svc.Spec.Selector, d.Spec.Template.Labels)
	}
}

const ownDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: myocr
spec:
  replicas: 1
  selector:
    matchLabels:
      {{- include "sealocr.podLabels" .Subcharts.sealocr | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "sealocr.podLabels" .Subcharts.sealocr | nindent 8 }}
    spec:
      automountServiceAccountToken: false
      securityContext:
        {{- toYaml .Subcharts.sealocr.Values.podSecurityContext | nindent 8 }}
      containers:
        - {{- include "sealocr.sidecarContainer" .Subcharts.sealocr | nindent 10 }}
        - name: ocr
          image: r.example/ocr:7.0
          args: ["--listen", "127.0.0.1:9000"]
          resources:
            limits: {memory: 1Gi}
          securityContext:
            {{- toYaml .Subcharts.sealocr.Values.securityContext | nindent 12 }}
      volumes:
        {{- include "sealocr.sidecarVolumes" .Subcharts.sealocr | nindent 8 }}
`

// --- rendering ---------------------------------------------------------------

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readValues(t *testing.T, file string) map[string]any {
	t.Helper()
	if file == "" {
		return map[string]any{}
	}
	v, err := chartutil.ReadValuesFile(filepath.Join(chartDir, "ci", file))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// effectiveValues merges vals over the chart's defaults.
func effectiveValues(t *testing.T, vals map[string]any) chartutil.Values {
	t.Helper()
	c := loadChart(t)
	v, err := chartutil.CoalesceValues(c, deepCopy(t, vals))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func deepCopy(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	if err := yaml.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// renderChart renders like `helm install --dry-run` without a cluster: the
// values are checked against values.schema.json, templates run in strict
// mode (a missing value is an error), and every document is decoded strictly.
func renderChart(c *chart.Chart, vals map[string]any) (*manifests, error) {
	opts := chartutil.ReleaseOptions{Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true}
	rv, err := chartutil.ToRenderValues(c, vals, opts, chartutil.DefaultCapabilities.Copy())
	if err != nil {
		return nil, err
	}
	files, err := engine.Engine{Strict: true}.Render(c, rv)
	if err != nil {
		return nil, err
	}
	return decodeAll(files)
}

// manifests is a rendering: every object decoded into its API type.
type manifests struct {
	notes   string
	objects []object
}

type object struct {
	file string
	kind string
	obj  any // pointer to a k8s.io/api type (or serviceMonitor)
}

// serviceMonitor is the part of monitoring.coreos.com/v1 ServiceMonitor the
// chart uses; unknown fields fail the decoding as for the core API types.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Scheme   string `json:"scheme"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// ingressRouteTCP is the part of Traefik's traefik.io/v1alpha1
// IngressRouteTCP the chart renders (passthrough.kind traefik).
type ingressRouteTCP struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		EntryPoints []string `json:"entryPoints"`
		Routes      []struct {
			Match    string `json:"match"`
			Services []struct {
				Name string `json:"name"`
				Port int    `json:"port"`
			} `json:"services"`
		} `json:"routes"`
		TLS struct {
			Passthrough bool `json:"passthrough"`
		} `json:"tls"`
	} `json:"spec"`
}

// tlsRoute is the part of Gateway API's v1alpha2 TLSRoute the chart
// renders (passthrough.kind gateway-api).
type tlsRoute struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ParentRefs []struct {
			Name        string `json:"name"`
			Namespace   string `json:"namespace,omitempty"`
			SectionName string `json:"sectionName,omitempty"`
			Port        int    `json:"port,omitempty"`
		} `json:"parentRefs"`
		Hostnames []string `json:"hostnames"`
		Rules     []struct {
			BackendRefs []struct {
				Name string `json:"name"`
				Port int    `json:"port"`
			} `json:"backendRefs"`
		} `json:"rules"`
	} `json:"spec"`
}

// kinds maps apiVersion/kind to a constructor of its API type.
var kinds = map[string]func() any{
	"networking.k8s.io/v1/Ingress":                func() any { return &networkingv1.Ingress{} },
	"traefik.io/v1alpha1/IngressRouteTCP":         func() any { return &ingressRouteTCP{} },
	"gateway.networking.k8s.io/v1alpha2/TLSRoute": func() any { return &tlsRoute{} },
	"apps/v1/Deployment":                          func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                         func() any { return &appsv1.StatefulSet{} },
	"v1/Service":                                  func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                           func() any { return &corev1.ServiceAccount{} },
	"v1/Secret":                                   func() any { return &corev1.Secret{} },
	"v1/ConfigMap":                                func() any { return &corev1.ConfigMap{} },
	"v1/PersistentVolumeClaim":                    func() any { return &corev1.PersistentVolumeClaim{} },
	"v1/Pod":                                      func() any { return &corev1.Pod{} },
	"policy/v1/PodDisruptionBudget":               func() any { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2/HorizontalPodAutoscaler":      func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"networking.k8s.io/v1/NetworkPolicy":          func() any { return &networkingv1.NetworkPolicy{} },
	"monitoring.coreos.com/v1/ServiceMonitor":     func() any { return &serviceMonitor{} },
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

func decodeAll(files map[string]string) (*manifests, error) {
	m := &manifests{}
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, name := range keys {
		body := files[name]
		switch {
		case strings.HasSuffix(name, "NOTES.txt"):
			m.notes += body
			continue
		case strings.HasSuffix(name, ".tpl"):
			if strings.TrimSpace(body) != "" {
				return nil, fmt.Errorf("%s renders output: %q", name, body)
			}
			continue
		}
		for _, doc := range docSep.Split(body, -1) {
			if isEmptyDoc(doc) {
				continue
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				return nil, fmt.Errorf("%s: %w\n%s", name, err, doc)
			}
			mk, ok := kinds[tm.APIVersion+"/"+tm.Kind]
			if !ok {
				return nil, fmt.Errorf("%s: unexpected %s %s", name, tm.APIVersion, tm.Kind)
			}
			obj := mk()
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				return nil, fmt.Errorf("%s: %s: strict decoding: %w\n%s", name, tm.Kind, err, doc)
			}
			m.objects = append(m.objects, object{file: name, kind: tm.Kind, obj: obj})
		}
	}
	return m, nil
}

func isEmptyDoc(doc string) bool {
	for _, l := range strings.Split(doc, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

func all[T any](m *manifests) []*T {
	var out []*T
	for _, o := range m.objects {
		if v, ok := o.obj.(*T); ok {
			out = append(out, v)
		}
	}
	return out
}

func (m *manifests) deployments() []*appsv1.Deployment { return all[appsv1.Deployment](m) }

func (m *manifests) deployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	d := m.deployments()
	if len(d) != 1 {
		t.Fatalf("want one Deployment, got %v", names(d))
	}
	return d[0]
}

func (m *manifests) service(t *testing.T, name string) *corev1.Service {
	t.Helper()
	for _, s := range all[corev1.Service](m) {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no Service %s", name)
	return nil
}

func (m *manifests) secret(name string) *corev1.Secret {
	for _, s := range all[corev1.Secret](m) {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// networkPolicy returns the NetworkPolicy of the sidecar's pods (not the
// release Redis's).
func (m *manifests) networkPolicy(t *testing.T) *networkingv1.NetworkPolicy {
	t.Helper()
	n := serverPolicies(m)
	if len(n) != 1 {
		t.Fatalf("want one NetworkPolicy of the sidecar's pods, got %d", len(n))
	}
	return n[0]
}

// serverPolicies are the NetworkPolicies of the sidecar's pods.
func serverPolicies(m *manifests) []*networkingv1.NetworkPolicy {
	var out []*networkingv1.NetworkPolicy
	for _, np := range all[networkingv1.NetworkPolicy](m) {
		if np.Spec.PodSelector.MatchLabels["app.kubernetes.io/component"] != "redis" {
			out = append(out, np)
		}
	}
	return out
}

func names[T any, P interface {
	*T
	GetName() string
}](objs []P) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetName())
	}
	return out
}

func container(t *testing.T, spec *corev1.PodSpec, name string) *corev1.Container {
	t.Helper()
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return &spec.Containers[i]
		}
	}
	t.Fatalf("no container %q", name)
	return nil
}

func env(c *corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func hasEnv(c *corev1.Container, name string) bool {
	return slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name })
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// --- properties of every rendering -----------------------------------------------

func checkInvariants(t *testing.T, m *manifests, vals chartutil.Values) {
	t.Helper()
	d := m.deployment(t)
	pod := d.Spec.Template.Spec
	corePort := int32(intValue(t, vals, "core.port"))

	t.Run("one pod, sidecar and core", func(t *testing.T) {
		if got := len(pod.Containers); got != 2 {
			t.Fatalf("want 2 containers, got %d", got)
		}
		if pod.HostNetwork {
			t.Error("hostNetwork: the core's loopback would be the node's")
		}
		sc := container(t, &pod, "sidecar")
		if want := fmt.Sprintf("http://127.0.0.1:%d", corePort); env(sc, "SEALOCR_UPSTREAM") != want {
			t.Errorf("SEALOCR_UPSTREAM = %q, want %q", env(sc, "SEALOCR_UPSTREAM"), want)
		}
	})

	t.Run("GOMEMLIMIT from the memory limit", func(t *testing.T) {
		// The Go runtime of each container learns the container's memory
		// limit (the core derives its memory budget from it); with no
		// limit there is nothing to learn.
		for _, name := range []string{"sidecar", "core"} {
			c := container(t, &pod, name)
			if name == "core" && vals["core"].(map[string]any)["mode"] != "bundled" {
				continue // your own server: the chart sets only core.env
			}
			_, limited := c.Resources.Limits[corev1.ResourceMemory]
			var ref *corev1.ResourceFieldSelector
			n := 0
			for _, e := range c.Env {
				if e.Name == "GOMEMLIMIT" {
					n++
					if e.ValueFrom != nil {
						ref = e.ValueFrom.ResourceFieldRef
					}
				}
			}
			switch {
			case !limited && n > 0:
				t.Errorf("%s: GOMEMLIMIT without a memory limit", name)
			case limited && (n != 1 || ref == nil || ref.Resource != "limits.memory" ||
				(ref.ContainerName != "" && ref.ContainerName != name) || (!ref.Divisor.IsZero() && ref.Divisor.Value() != 1)):
				t.Errorf("%s: want one GOMEMLIMIT from resourceFieldRef limits.memory in bytes, got %d (%+v)", name, n, ref)
			}
		}
	})

	t.Run("core never exposed", func(t *testing.T) {
		core := container(t, &pod, "core")
		// The core's API port is never declared; its own metrics listener
		// is, only when a ServiceMonitor scrapes it.
		var coreMetricsPort int32
		monitored := len(all[serviceMonitor](m)) > 0
		for _, p := range core.Ports {
			if p.Name != "core-metrics" || !monitored || p.ContainerPort == corePort {
				t.Errorf("core declares port %v", p)
			}
			coreMetricsPort = p.ContainerPort
		}
		if vals["core"].(map[string]any)["mode"] == "bundled" {
			if got := env(core, "SEALOCR_CORE_LISTEN"); got != fmt.Sprintf("127.0.0.1:%d", corePort) {
				t.Errorf("SEALOCR_CORE_LISTEN = %q", got)
			}
			if hasEnv(core, "SEALOCR_CORE_UNSAFE_ALLOW_NON_LOOPBACK") || hasEnv(core, "SEALOCR_CORE_UNSAFE_ALLOW_REMOTE_LISTEN") {
				t.Error("core allows non-loopback listening")
			}
			ml := env(core, "SEALOCR_CORE_METRICS_LISTEN")
			if monitored != (coreMetricsPort != 0) || (!monitored && !strings.HasPrefix(ml, "127.0.0.1:")) ||
				(monitored && ml != fmt.Sprintf(":%d", coreMetricsPort)) || ml == fmt.Sprintf("127.0.0.1:%d", corePort) {
				t.Errorf("SEALOCR_CORE_METRICS_LISTEN = %q with ServiceMonitor %v and core ports %v", ml, monitored, core.Ports)
			}
		}
		sc := container(t, &pod, "sidecar")
		sidecarPorts := map[string]int32{}
		for _, p := range sc.Ports {
			sidecarPorts[p.Name] = p.ContainerPort
			if p.ContainerPort < 1024 {
				t.Errorf("sidecar port %s is privileged (%d)", p.Name, p.ContainerPort)
			}
			if p.ContainerPort == corePort {
				t.Errorf("sidecar exposes the core's port %d", corePort)
			}
		}
		for _, s := range all[corev1.Service](m) {
			if s.Spec.Selector["app.kubernetes.io/component"] == "redis" {
				continue // the release's Redis (checkReplicasRedis)
			}
			for _, p := range s.Spec.Ports {
				tp := p.TargetPort
				switch {
				case tp.Type == intstr.String && sidecarPorts[tp.StrVal] != 0:
				case tp.Type == intstr.String && tp.StrVal == "core-metrics" && coreMetricsPort != 0 && s.Name == fullname+"-metrics":
				case tp.Type == intstr.Int && tp.IntVal != corePort && slices.Contains(mapValues(sidecarPorts), tp.IntVal):
				default:
					t.Errorf("Service %s port %s targets %s: not a sidecar port", s.Name, p.Name, tp.String())
				}
			}
		}
		if np := serverPolicies(m); len(np) > 0 {
			for _, r := range np[0].Spec.Ingress {
				if len(r.Ports) == 0 {
					t.Error("NetworkPolicy ingress rule without ports opens every port, the core's too")
				}
				for _, p := range r.Ports {
					if p.Port != nil && coreMetricsPort != 0 && p.Port.IntVal == coreMetricsPort && slices.ContainsFunc(r.Ports, func(q networkingv1.NetworkPolicyPort) bool {
						return q.Port != nil && q.Port.IntVal == sidecarPorts["metrics"]
					}) {
						continue // the metrics rule: the core's metrics listener beside the sidecar's
					}
					if p.Port == nil || (p.Port.Type == intstr.Int && p.Port.IntVal == corePort) || !slices.Contains(mapValues(sidecarPorts), p.Port.IntVal) {
						t.Errorf("NetworkPolicy ingress port %v is not a sidecar port", p.Port)
					}
				}
			}
		}
	})

	t.Run("services", func(t *testing.T) {
		svc := m.service(t, fullname)
		if !selects(svc.Spec.Selector, d.Spec.Template.Labels) {
			t.Errorf("Service selector %v does not select the pods %v", svc.Spec.Selector, d.Spec.Template.Labels)
		}
		ports := map[string]int32{}
		for _, p := range svc.Spec.Ports {
			ports[p.TargetPort.StrVal] = p.Port
		}
		if ports["https"] != int32(intValue(t, vals, "service.httpsPort")) || ports["http"] != int32(intValue(t, vals, "service.httpPort")) || len(ports) != 2 {
			t.Errorf("Service ports %v: want https and http only", ports)
		}
	})

	t.Run("secrets never in ConfigMaps or plain env", func(t *testing.T) {
		var secretValues [][]byte
		for _, s := range all[corev1.Secret](m) {
			for _, v := range s.Data {
				if len(v) >= 16 {
					secretValues = append(secretValues, v)
				}
			}
		}
		for _, cm := range all[corev1.ConfigMap](m) {
			blobs := map[string][]byte{}
			for k, v := range cm.Data {
				blobs[k] = []byte(v)
			}
			for k, v := range cm.BinaryData {
				blobs[k] = v
			}
			for k, v := range blobs {
				if secretish.MatchString(k) || bytes.Contains(v, []byte("PRIVATE KEY")) || bytes.Contains(v, []byte("secret:")) {
					t.Errorf("ConfigMap %s key %s looks like a secret", cm.Name, k)
				}
				for _, s := range secretValues {
					if bytes.Contains(v, s) {
						t.Errorf("ConfigMap %s key %s holds a Secret's value", cm.Name, k)
					}
				}
			}
		}
		for _, p := range podSpecs(m) {
			for _, c := range slices.Concat(p.spec.InitContainers, p.spec.Containers) {
				for _, e := range c.Env {
					// A secret is referenced: by a file path or a secretKeyRef.
					if secretish.MatchString(e.Name) && e.Value != "" && !strings.HasPrefix(e.Value, "/") {
						t.Errorf("%s container %s: %s has a literal value; secrets come from Secrets", p.name, c.Name, e.Name)
					}
				}
			}
		}
	})

	t.Run("every container hardened", func(t *testing.T) {
		for _, p := range podSpecs(m) {
			checkPodHardened(t, p.name, p.spec, p.spec.SecurityContext)
		}
	})

	t.Run("volumes resolve", func(t *testing.T) {
		for _, p := range podSpecs(m) {
			checkVolumesResolve(t, p.name, p.spec)
		}
	})

	t.Run("probes", func(t *testing.T) {
		sc := container(t, &pod, "sidecar")
		for name, pr := range map[string]*corev1.Probe{"startup": sc.StartupProbe, "liveness": sc.LivenessProbe, "readiness": sc.ReadinessProbe} {
			switch {
			case pr == nil:
				t.Errorf("sidecar has no %s probe", name)
			case pr.HTTPGet != nil:
				if pr.HTTPGet.Scheme != corev1.URISchemeHTTPS || pr.HTTPGet.Port.StrVal != "https" {
					t.Errorf("sidecar %s probe %+v: want HTTPS on the https port", name, pr.HTTPGet)
				}
			case pr.TCPSocket != nil:
				if env(sc, "SEALOCR_TLS_MODE") != "acme" {
					t.Errorf("sidecar %s probe is TCP outside ACME mode", name)
				}
			default:
				t.Errorf("sidecar %s probe is neither HTTPS nor TCP", name)
			}
		}
		core := container(t, &pod, "core")
		if vals["core"].(map[string]any)["mode"] == "bundled" {
			for name, pr := range map[string]*corev1.Probe{"startup": core.StartupProbe, "liveness": core.LivenessProbe, "readiness": core.ReadinessProbe} {
				if pr == nil || pr.Exec == nil || !slices.Equal(pr.Exec.Command, []string{"/usr/local/bin/core", "healthcheck"}) {
					t.Errorf("core %s probe %v: want exec `core healthcheck`", name, pr)
				}
			}
		}
	})

	t.Run("disruption budget, autoscaler and policy select the pods", func(t *testing.T) {
		labels := d.Spec.Template.Labels
		if !selects(d.Spec.Selector.MatchLabels, labels) {
			t.Error("Deployment selector does not select its pods")
		}
		for _, p := range all[policyv1.PodDisruptionBudget](m) {
			if !selects(p.Spec.Selector.MatchLabels, labels) {
				t.Errorf("PodDisruptionBudget selector %v", p.Spec.Selector.MatchLabels)
			}
		}
		for _, h := range all[autoscalingv2.HorizontalPodAutoscaler](m) {
			if h.Spec.ScaleTargetRef.Name != d.Name || d.Spec.Replicas != nil {
				t.Errorf("HorizontalPodAutoscaler targets %s; Deployment replicas %v (must be unset)", h.Spec.ScaleTargetRef.Name, d.Spec.Replicas)
			}
		}
		for _, np := range serverPolicies(m) {
			if !selects(np.Spec.PodSelector.MatchLabels, labels) {
				t.Errorf("NetworkPolicy selector %v", np.Spec.PodSelector.MatchLabels)
			}
			if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}) {
				t.Errorf("NetworkPolicy policyTypes %v", np.Spec.PolicyTypes)
			}
		}
	})

	t.Run("helm test and notes", func(t *testing.T) {
		var tests []*corev1.Pod
		for _, p := range all[corev1.Pod](m) {
			if p.Annotations["helm.sh/hook"] == "test" {
				tests = append(tests, p)
			}
		}
		if len(tests) != 1 {
			t.Fatalf("want one helm test pod, got %d", len(tests))
		}
		c := tests[0].Spec.Containers[0]
		want := []string{"ocr", "--mode", "ohttp"}
		if vals["auth"].(map[string]any)["mode"] == "required" {
			want = []string{"keys"} // sealctl sends no credential
		}
		if !slices.Equal(c.Command, []string{"/usr/local/bin/sealctl"}) || !containsAll(c.Args, want) {
			t.Errorf("test container runs %v %v: want sealctl %v", c.Command, c.Args, want)
		}
		for _, want := range []string{"sealctl keys", "/.well-known/ohttp-gateway", "sealctl ocr", "helm test " + releaseName} {
			if !strings.Contains(m.notes, want) {
				t.Errorf("NOTES.txt does not mention %q", want)
			}
		}
	})
}

func containsAll(s, want []string) bool {
	for _, w := range want {
		if !slices.Contains(s, w) {
			return false
		}
	}
	return true
}

var secretish = regexp.MustCompile(`(?i)(secret|password|passwd|token|private|_key$|^key$|keys\.ya?ml)`)

func mapValues(m map[string]int32) []int32 {
	out := make([]int32, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

type namedPodSpec struct {
	name string
	spec corev1.PodSpec
}

func podSpecs(m *manifests) []namedPodSpec {
	var out []namedPodSpec
	for _, d := range m.deployments() {
		out = append(out, namedPodSpec{"Deployment " + d.Name, d.Spec.Template.Spec})
	}
	for _, s := range all[appsv1.StatefulSet](m) {
		spec := *s.Spec.Template.Spec.DeepCopy()
		for _, c := range s.Spec.VolumeClaimTemplates { // a volume of each pod
			spec.Volumes = append(spec.Volumes, corev1.Volume{Name: c.Name, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Name}}})
		}
		out = append(out, namedPodSpec{"StatefulSet " + s.Name, spec})
	}
	for _, p := range all[corev1.Pod](m) {
		out = append(out, namedPodSpec{"Pod " + p.Name, p.Spec})
	}
	return out
}

func checkPodHardened(t *testing.T, name string, spec corev1.PodSpec, psc *corev1.PodSecurityContext) {
	t.Helper()
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		t.Errorf("%s shares a host namespace", name)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s mounts a service account token", name)
	}
	podNonRoot := psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot
	podSeccomp := psc != nil && psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault
	if psc != nil && psc.RunAsUser != nil && *psc.RunAsUser == 0 {
		t.Errorf("%s runs as uid 0", name)
	}
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		where := fmt.Sprintf("%s container %s", name, c.Name)
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("%s has no securityContext", where)
			continue
		}
		if !podNonRoot && (sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot) {
			t.Errorf("%s may run as root", where)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s has a writable root filesystem", where)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s allows privilege escalation", where)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("%s is privileged", where)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
			t.Errorf("%s does not drop ALL capabilities (or adds some): %+v", where, sc.Capabilities)
		}
		if !podSeccomp && (sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault) {
			t.Errorf("%s has no RuntimeDefault seccomp profile", where)
		}
		if c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s has no memory limit", where)
		}
	}
}

func checkVolumesResolve(t *testing.T, name string, spec corev1.PodSpec) {
	t.Helper()
	vols := map[string]bool{}
	for _, v := range spec.Volumes {
		if vols[v.Name] {
			t.Errorf("%s: volume %s twice", name, v.Name)
		}
		vols[v.Name] = true
	}
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		for _, vm := range c.VolumeMounts {
			if !vols[vm.Name] {
				t.Errorf("%s container %s mounts missing volume %s", name, c.Name, vm.Name)
			}
		}
	}
}

func intValue(t *testing.T, vals chartutil.Values, path string) int {
	t.Helper()
	v, err := vals.PathValue(path)
	if err != nil {
		t.Fatal(err)
	}
	switch n := v.(type) {
	case int:
		return n
	case int64:
		return int(n)
	case float64:
		return int(n)
	}
	t.Fatalf("%s is %T", path, v)
	return 0
}

// --- what each values file promises ---------------------------------------------

func checkDefault(t *testing.T, m *manifests) {
	d := m.deployment(t)
	sc := container(t, &d.Spec.Template.Spec, "sidecar")
	if env(sc, "SEALOCR_TLS_MODE") != "files" || env(sc, "SEALOCR_TLS_CERT") != "/etc/sealocr/tls/tls.crt" {
		t.Errorf("local TLS: want the chart's certificate served in files mode, env %v", sc.Env)
	}
	if env(sc, "SEALOCR_AUTH") != "off" || env(sc, "SEALOCR_RATE_LIMIT") != "60/m" {
		t.Errorf("auth %q, rate limit %q: want off and 60/m by default", env(sc, "SEALOCR_AUTH"), env(sc, "SEALOCR_RATE_LIMIT"))
	}
	checkKeysSecret(t, m, sc)
	if hasEnv(sc, "SEALOCR_REDIS_URL") {
		t.Error("Redis is off by default")
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %s with a ReadWriteOnce volume: want Recreate", d.Spec.Strategy.Type)
	}
	if n := len(all[corev1.PersistentVolumeClaim](m)); n != 1 {
		t.Errorf("want a PersistentVolumeClaim, got %d", n)
	}
	if len(all[serviceMonitor](m)) != 0 || len(all[autoscalingv2.HorizontalPodAutoscaler](m)) != 0 {
		t.Error("ServiceMonitor and HPA are off by default")
	}
	if got := env(sc, "SEALOCR_METRICS_LISTEN"); !strings.HasPrefix(got, "127.0.0.1:") {
		t.Errorf("metrics listen %q: want loopback by default", got)
	}
	np := m.networkPolicy(t)
	if len(np.Spec.Egress) != 1 {
		t.Errorf("egress %v: want DNS only outside ACME mode", np.Spec.Egress)
	}

	s := m.secret(fullname + "-tls")
	if s == nil {
		t.Fatal("no TLS Secret in local mode")
	}
	checkLocalCertificate(t, s)
}

// checkKeysSecret: without keys.existingSecret the chart makes the key
// Secret (a seed, kept on uninstall) and the sidecar reads it.
func checkKeysSecret(t *testing.T, m *manifests, sc *corev1.Container) {
	t.Helper()
	if got := env(sc, "SEALOCR_OHTTP_ROTATION"); got != "24h" {
		t.Errorf("SEALOCR_OHTTP_ROTATION = %q: the chart's seed keys rotate daily by default", got)
	}
	if got := env(sc, "SEALOCR_KEYS_FILE"); got != "/etc/sealocr/keys/keys.yaml" {
		t.Errorf("SEALOCR_KEYS_FILE = %q", got)
	}
	ks := m.secret(fullname + "-keys")
	if ks == nil {
		t.Fatal("no key Secret")
	}
	if ks.Annotations["helm.sh/resource-policy"] != "keep" {
		t.Error("the key Secret is not kept on uninstall")
	}
	// The sidecar's keys.Parse derives the keys from the seed (tested
	// there); here: one seed of 32 random bytes.
	seed := regexp.MustCompile(`(?m)^seed: ([A-Za-z0-9+/]{43}=)$`).FindSubmatch(ks.Data["keys.yaml"])
	if seed == nil {
		t.Fatalf("the chart's key file holds no seed of 32 bytes")
	}
	if b, err := base64.StdEncoding.DecodeString(string(seed[1])); err != nil || len(b) != 32 || bytes.Count(b, b[:1]) == 32 {
		t.Errorf("seed: %d bytes, %v", len(b), err)
	}
	var vol string
	for _, v := range m.deployment(t).Spec.Template.Spec.Volumes {
		if v.Name == "sealocr-keys" && v.Secret != nil {
			vol = v.Secret.SecretName
		}
	}
	if vol != fullname+"-keys" {
		t.Errorf("key volume from Secret %q", vol)
	}
}

// checkReplicasRedis: three ACME replicas on the release's Redis.
func checkReplicasRedis(t *testing.T, m *manifests) {
	d := m.deployment(t)
	pod := d.Spec.Template.Spec
	sc := container(t, &pod, "sidecar")
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 || d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("replicas %v strategy %s: want 3, RollingUpdate", d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	want := map[string]string{
		"SEALOCR_TLS_MODE":            "acme",
		"SEALOCR_REDIS_URL":           "redis://" + fullname + "-redis." + namespace + ".svc:6379/0",
		"SEALOCR_REDIS_PASSWORD_FILE": "/etc/sealocr/redis/password",
		"SEALOCR_RATE_LIMIT_FAIL":     "closed",
		"SEALOCR_REDIS_TIMEOUT":       "250ms",
	}
	for k, v := range want {
		if got := env(sc, k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	checkKeysSecret(t, m, sc)
	if n := len(all[corev1.PersistentVolumeClaim](m)); n != 0 {
		t.Errorf("%d PersistentVolumeClaims: the sidecars keep nothing on a volume with Redis", n)
	}
	for _, v := range pod.Volumes {
		if v.Name == "sealocr-state" && v.EmptyDir == nil {
			t.Errorf("state volume %+v: want an emptyDir", v.VolumeSource)
		}
	}
	if len(pod.TopologySpreadConstraints) != 1 || pod.TopologySpreadConstraints[0].TopologyKey != "kubernetes.io/hostname" ||
		!selects(pod.TopologySpreadConstraints[0].LabelSelector.MatchLabels, d.Spec.Template.Labels) {
		t.Errorf("topology spread %+v: want one over hostnames selecting the pods", pod.TopologySpreadConstraints)
	}
	if len(all[policyv1.PodDisruptionBudget](m)) != 1 {
		t.Error("no PodDisruptionBudget")
	}

	// The Redis: one StatefulSet with a volume, configured safe.
	sts := all[appsv1.StatefulSet](m)
	if len(sts) != 1 || sts[0].Name != fullname+"-redis" || *sts[0].Spec.Replicas != 1 || len(sts[0].Spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("want one Redis StatefulSet with a volume claim, got %v", sts)
	}
	sec := m.secret(fullname + "-redis")
	if sec == nil {
		t.Fatal("no Redis Secret")
	}
	pw := string(sec.Data["password"])
	conf := string(sec.Data["redis.conf"])
	for _, line := range []string{"appendonly yes", "maxmemory-policy noeviction", "requirepass " + pw, "dir /data", "maxmemory 200mb"} {
		if len(pw) < 32 || !strings.Contains(conf, line+"\n") {
			t.Errorf("redis.conf lacks %q (password %d characters)", line, len(pw))
		}
	}
	rp := sts[0].Spec.Template.Spec
	rc := container(t, &rp, "redis")
	if !slices.Equal(rc.Command, []string{"redis-server", "/etc/redis/redis.conf"}) || strings.Contains(strings.Join(rc.Args, " "), pw) {
		t.Errorf("redis runs %v %v: want the config file, never the password on the command line", rc.Command, rc.Args)
	}
	for _, e := range rc.Env {
		if strings.Contains(e.Value, pw) {
			t.Errorf("redis env %s holds the password", e.Name)
		}
	}
	svc := m.service(t, fullname+"-redis")
	if !selects(svc.Spec.Selector, sts[0].Spec.Template.Labels) || selects(svc.Spec.Selector, d.Spec.Template.Labels) {
		t.Errorf("Redis Service selector %v", svc.Spec.Selector)
	}
	m.service(t, fullname) // the sidecars' Service
	if selects(m.service(t, fullname).Spec.Selector, sts[0].Spec.Template.Labels) {
		t.Error("the public Service selects the Redis pod")
	}

	// Only the sidecars reach Redis; Redis reaches nothing; the sidecars
	// may reach Redis.
	var rnp *networkingv1.NetworkPolicy
	for _, np := range all[networkingv1.NetworkPolicy](m) {
		if np.Name == fullname+"-redis" {
			rnp = np
		}
	}
	if rnp == nil {
		t.Fatal("no Redis NetworkPolicy")
	}
	if !selects(rnp.Spec.PodSelector.MatchLabels, sts[0].Spec.Template.Labels) || len(rnp.Spec.Egress) != 0 ||
		!slices.Contains(rnp.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) || len(rnp.Spec.Ingress) != 1 ||
		len(rnp.Spec.Ingress[0].From) != 1 || !selects(rnp.Spec.Ingress[0].From[0].PodSelector.MatchLabels, d.Spec.Template.Labels) ||
		selects(rnp.Spec.Ingress[0].From[0].PodSelector.MatchLabels, sts[0].Spec.Template.Labels) {
		t.Errorf("Redis NetworkPolicy %+v: want ingress from the sidecars only, no egress", rnp.Spec)
	}
	toRedis := false
	for _, e := range m.networkPolicy(t).Spec.Egress {
		for _, to := range e.To {
			if to.PodSelector != nil && selects(to.PodSelector.MatchLabels, sts[0].Spec.Template.Labels) {
				toRedis = true
			}
		}
	}
	if !toRedis {
		t.Error("the sidecars' NetworkPolicy does not let them reach Redis")
	}
}

// checkLocalCertificate verifies the chart-made certificate: signed by the
// Secret's CA, for the Service's cluster names.
func checkLocalCertificate(t *testing.T, s *corev1.Secret) {
	t.Helper()
	if s.Type != corev1.SecretTypeTLS {
		t.Errorf("TLS Secret type %s", s.Type)
	}
	parse := func(key string) *x509.Certificate {
		b, _ := pem.Decode(s.Data[key])
		if b == nil {
			t.Fatalf("%s is not PEM", key)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ca, leaf := parse("ca.crt"), parse("tls.crt")
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, name := range []string{fullname + "." + namespace + ".svc", fullname + "." + namespace + ".svc.cluster.local", "localhost"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
			t.Errorf("certificate for %s: %v", name, err)
		}
	}
	if b, _ := pem.Decode(s.Data["tls.key"]); b == nil || !strings.Contains(b.Type, "PRIVATE KEY") {
		t.Error("tls.key is not a PEM private key")
	}
}

func checkPublicACME(t *testing.T, m *manifests) {
	d := m.deployment(t)
	sc := container(t, &d.Spec.Template.Spec, "sidecar")
	for k, want := range map[string]string{
		"SEALOCR_TLS_MODE":                      "acme",
		"SEALOCR_DOMAINS":                       "ocr.example.com",
		"SEALOCR_ACME_EMAIL":                    "ops@example.com",
		"SEALOCR_ACME_STAGING":                  "false",
		"SEALOCR_HTTP_LISTEN":                   ":8080",
		"SEALOCR_LISTEN":                        ":8443",
		"SEALOCR_AUTH":                          "required",
		"SEALOCR_UNSAFE_PUBLIC_UNAUTHENTICATED": "",
	} {
		if got := env(sc, k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if m.secret(fullname+"-tls") != nil {
		t.Error("ACME mode renders the local CA Secret")
	}
	if sc.ReadinessProbe.TCPSocket == nil {
		t.Error("ACME mode: an HTTPS readiness probe fails before the first certificate and takes the pod out of the Service the CA validates through; want TCP probes")
	}
	svc := m.service(t, fullname)
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
		t.Errorf("Service type %s, externalTrafficPolicy %s", svc.Spec.Type, svc.Spec.ExternalTrafficPolicy)
	}
	if svc.Annotations["service.beta.kubernetes.io/aws-load-balancer-type"] != "nlb" {
		t.Errorf("Service annotations %v", svc.Annotations)
	}
	np := m.networkPolicy(t)
	https := false
	for _, e := range np.Spec.Egress {
		for _, p := range e.Ports {
			https = https || (p.Port != nil && p.Port.IntVal == 443)
		}
	}
	if !https {
		t.Error("ACME mode: egress to the ACME CA (443) is not allowed")
	}
	if len(all[corev1.PersistentVolumeClaim](m)) != 1 {
		t.Error("ACME mode: want the certificate PersistentVolumeClaim")
	}
	if !strings.Contains(m.notes, "https://ocr.example.com") {
		t.Error("NOTES.txt does not give the public address")
	}
}

func checkExistingCore(t *testing.T, m *manifests) {
	d := m.deployment(t)
	core := container(t, &d.Spec.Template.Spec, "core")
	if core.Image != "registry.example.com/acme/ocr-server:2.3.1" {
		t.Errorf("core image %q", core.Image)
	}
	if !slices.Equal(core.Args, []string{"--host", "127.0.0.1", "--port", "9000"}) {
		t.Errorf("core args %v", core.Args)
	}
	for _, e := range core.Env {
		if strings.HasPrefix(e.Name, "SEALOCR_") {
			t.Errorf("existing core gets sealocr's %s", e.Name)
		}
	}
	want := []string{"/app/ocr-server", "ping", "--port", "9000"}
	if core.ReadinessProbe == nil || core.ReadinessProbe.Exec == nil || !slices.Equal(core.ReadinessProbe.Exec.Command, want) {
		t.Errorf("core readiness probe %v: want exec %v", core.ReadinessProbe, want)
	}
	sc := container(t, &d.Spec.Template.Spec, "sidecar")
	if p := sc.ReadinessProbe.HTTPGet; p == nil || p.Path != "/healthz" {
		t.Errorf("sidecar readiness %v: an existing core need not have /readyz; want /healthz", sc.ReadinessProbe)
	}
}

func checkHardened(t *testing.T, m *manifests) {
	d := m.deployment(t)
	if d.Spec.Replicas != nil {
		t.Error("autoscaled Deployment sets replicas")
	}
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("strategy %s without a volume: want RollingUpdate", d.Spec.Strategy.Type)
	}
	if n := len(all[corev1.PersistentVolumeClaim](m)); n != 0 {
		t.Errorf("persistence off, got %d claims", n)
	}
	sc := container(t, &d.Spec.Template.Spec, "sidecar")
	for k, want := range map[string]string{
		"SEALOCR_AUTH":                "required",
		"SEALOCR_AUTH_JWKS_URL":       "https://login.example.com/.well-known/jwks.json",
		"SEALOCR_AUTH_OIDC_ISSUER":    "https://login.example.com",
		"SEALOCR_AUTH_OIDC_CLIENT_ID": "sealocr-webui",
		"SEALOCR_AUTH_OIDC_SCOPES":    "openid,email",
		"SEALOCR_AUTH_JWT_AUDIENCE":   "sealocr",
		"SEALOCR_AUTH_API_KEYS_FILE":  "/etc/sealocr/api-keys/api-keys.yaml",
		"SEALOCR_RATE_LIMIT":          "30/m",
		"SEALOCR_RATE_LIMIT_BURST":    "10",
	} {
		if got := env(sc, k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if env(sc, "SEALOCR_KEYS_FILE") != "/etc/sealocr/keys/keys.yaml" {
		t.Errorf("SEALOCR_KEYS_FILE = %q", env(sc, "SEALOCR_KEYS_FILE"))
	}
	if got := env(sc, "SEALOCR_OHTTP_ROTATION"); got != "" {
		t.Errorf("SEALOCR_OHTTP_ROTATION = %q with keys.existingSecret: a file without a seed cannot rotate", got)
	}
	if !strings.Contains(sc.Image, "@sha256:") || !strings.Contains(container(t, &d.Spec.Template.Spec, "core").Image, "@sha256:") {
		t.Error("digests not used")
	}
	var tlsSecret string
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == "sealocr-tls" && v.Secret != nil {
			tlsSecret = v.Secret.SecretName
		}
	}
	if tlsSecret != "sealocr-tls-from-cert-manager" {
		t.Errorf("TLS volume from %q", tlsSecret)
	}
	if len(all[serviceMonitor](m)) != 1 || len(all[autoscalingv2.HorizontalPodAutoscaler](m)) != 1 {
		t.Error("want a ServiceMonitor and an HPA")
	}
	ms := m.service(t, fullname+"-metrics")
	if ms.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("metrics Service type %s", ms.Spec.Type)
	}
	var msPorts []string
	for _, p := range ms.Spec.Ports {
		msPorts = append(msPorts, p.Name)
	}
	if !slices.Equal(msPorts, []string{"metrics", "core-metrics"}) {
		t.Errorf("metrics Service ports %v, want the sidecar's and the core's metrics", msPorts)
	}
	if ep := all[serviceMonitor](m)[0].Spec.Endpoints; len(ep) != 2 || ep[1].Port != "core-metrics" {
		t.Errorf("ServiceMonitor endpoints %+v: want metrics and core-metrics", ep)
	}
	for _, p := range m.service(t, fullname).Spec.Ports {
		if p.Name == "metrics" {
			t.Error("metrics on the public Service")
		}
	}
	np := m.networkPolicy(t)
	if len(np.Spec.Ingress) != 2 || len(np.Spec.Ingress[0].From) == 0 || len(np.Spec.Ingress[1].From) != 1 {
		t.Errorf("ingress %+v: want restricted HTTPS/HTTP and metrics peers", np.Spec.Ingress)
	}
	if m.secret(fullname+"-tls") != nil {
		t.Error("files mode renders the local CA Secret")
	}
}

func TestMain(m *testing.M) {
	// The tests read the chart relative to this folder.
	if _, err := os.Stat(filepath.Join(chartDir, "Chart.yaml")); err != nil {
		fmt.Fprintln(os.Stderr, "charts: run from the charts folder:", err)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// TestSidecarAcceptsChartEnv runs the real sidecar's --check-config with the
// environment each values file renders, so a setting the chart writes and
// the sidecar does not know (or rejects) fails here, not in a pod.
func TestSidecarAcceptsChartEnv(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the sidecar")
	}
	bin := filepath.Join(t.TempDir(), "sidecar")
	if err := testkit.GoBuild(bin, "./sidecar/cmd/sidecar", "CGO_ENABLED=0"); err != nil {
		t.Fatal(err)
	}
	// The sidecar ignores unknown variables, so the names are checked
	// against the variables it declares: its --help-config table (and the
	// variables its descriptions name, such as AES_SECRET_KEY).
	help, err := exec.Command(bin, "--help-config").Output()
	if err != nil {
		t.Fatalf("sidecar --help-config: %v", err)
	}
	declared := map[string]bool{}
	for _, name := range regexp.MustCompile(`\b[A-Z][A-Z0-9_]{2,}\b`).FindAllString(string(help), -1) {
		declared[name] = true
	}
	if !declared["SEALOCR_UPSTREAM"] || !declared["AES_SECRET_KEY"] {
		t.Fatalf("--help-config does not declare the variables:\n%s", help)
	}
	for _, vc := range valuesCases {
		t.Run(vc.name, func(t *testing.T) {
			m, err := renderChart(loadChart(t), readValues(t, vc.file))
			if err != nil {
				t.Fatal(err)
			}
			sc := container(t, &m.deployment(t).Spec.Template.Spec, "sidecar")
			for _, e := range sc.Env {
				if e.Name == "GOMEMLIMIT" {
					continue // the Go runtime's
				}
				if !declared[e.Name] {
					t.Errorf("the sidecar does not read %s (not in its --help-config)", e.Name)
				}
			}
			cmd := exec.Command(bin, "--check-config")
			cmd.Env = []string{"HOME=/nonexistent"}
			for _, e := range sc.Env {
				v := e.Value
				switch {
				case e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil:
					// What the kubelet writes for limits.memory: bytes.
					mem := sc.Resources.Limits[corev1.ResourceMemory]
					v = strconv.FormatInt(mem.Value(), 10)
				case e.ValueFrom != nil:
					v = strings.Repeat("k", 32) // a Secret's value
				}
				if e.Name == "SEALOCR_REDIS_PASSWORD_FILE" { // a file of a Secret volume, read by --check-config
					v = filepath.Join(t.TempDir(), "password")
					if err := os.WriteFile(v, []byte(strings.Repeat("p", 32)), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				cmd.Env = append(cmd.Env, e.Name+"="+v)
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("sidecar --check-config with the chart's environment: %v\n%s", err, out)
			}
		})
	}
}

// TestOIDCEgress: with an OpenID Provider and no other outside source, the
// NetworkPolicy lets the sidecar reach it (HTTPS) for discovery and keys,
// and the sidecar gets its settings.
func TestOIDCEgress(t *testing.T) {
	m, err := renderChart(loadChart(t), map[string]any{"auth": map[string]any{"mode": "required",
		"oidc": map[string]any{"issuer": "https://login.example.com", "clientID": "sealocr-webui", "audiences": []any{"sealocr-webui", "api"}}}})
	if err != nil {
		t.Fatal(err)
	}
	https := false
	for _, e := range m.networkPolicy(t).Spec.Egress {
		for _, p := range e.Ports {
			https = https || (p.Port != nil && p.Port.IntVal == 443)
		}
	}
	if !https {
		t.Error("no egress to the OpenID Provider (443)")
	}
	sc := container(t, &m.deployment(t).Spec.Template.Spec, "sidecar")
	if env(sc, "SEALOCR_AUTH_OIDC_ISSUER") != "https://login.example.com" || env(sc, "SEALOCR_AUTH_OIDC_AUDIENCE") != "sealocr-webui,api" ||
		hasEnv(sc, "SEALOCR_AUTH_OIDC_SCOPES") {
		t.Errorf("sidecar env %v", sc.Env)
	}
}
