//go:build faults

package faults_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/miner-detector/miner-detector/actions"
	"github.com/miner-detector/miner-detector/internal/amtest"
	"github.com/miner-detector/miner-detector/internal/config"
	"github.com/miner-detector/miner-detector/internal/cycle"
	"github.com/miner-detector/miner-detector/internal/fleet"
	"github.com/miner-detector/miner-detector/internal/kubetest"
	"github.com/miner-detector/miner-detector/internal/metrics"
	"github.com/miner-detector/miner-detector/internal/promtest"
	"github.com/miner-detector/miner-detector/internal/slackrecorder"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Every fault's namespace holds a miner and a flat-training pod (the old
// rule's false positive: deleting it is the worst bug) on one node.
const (
	minerPod = "miner-0"
	trainPod = "train-0"
	window   = 10 * time.Minute
	// stallBound is how long a cycle may take before the fault counts it
	// as stalled: generous, far above any timeout the cycles run with.
	stallBound = 60 * time.Second
	slackToken = "xoxb-fault-matrix-SECRET-token"
)

// row is one line of the fault matrix.
type row struct {
	fault, did, checked string
	held                bool
	w, l, d, s          int
}

var (
	rowsMu sync.Mutex
	rows   []row
)

func TestMain(m *testing.M) {
	code := m.Run()
	printMatrix(os.Stdout)
	os.Exit(code)
}

func printMatrix(w io.Writer) {
	rowsMu.Lock()
	defer rowsMu.Unlock()
	if len(rows) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FAULT\tDETECTOR DID\tCHECKED\tRESULT")
	held, W, L, D, S := 0, 0, 0, 0, 0
	for _, r := range rows {
		res := "broken"
		if r.held {
			res = "held"
			held++
		}
		W, L, D, S = W+r.w, L+r.l, D+r.d, S+r.s
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.fault, r.did, r.checked, res)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "faults: %d tried, %d held, %d wrongful deletions, %d lost findings, %d duplicate Slack posts, %d stalled cycles\n",
		len(rows), held, W, L, D, S)
}

// env is the real pipeline every fault runs against, started once.
type env struct {
	cluster  *kubetest.Cluster
	admin    kubernetes.Interface
	prom     *promtest.Server
	promTiny *promtest.Server // same data, --query.max-samples=10, far below what a cycle loads
	am       *amtest.Server
	from     time.Time // where the series start (all pods exist by then)
	at       time.Time // the first cycle's window end

	// promForged holds the faults with forged telemetry: their own
	// series and the forgeries. Forged series are reported whatever
	// namespace they claim, so no other fault may see them.
	promForged *promtest.Server
}

// fault is one named fault; its namespace is its own.
type fault struct {
	name string
	// pods, when set, replaces the namespace's miner + training pair.
	pods   func(ns, node string) []fleet.Pod
	scrape fleet.Scrape
	layout fleet.Layout
	// history, when set, starts the namespace's series that long before the
	// others (which start just after the pods were created).
	history time.Duration
	run     func(f *fc)

	// forged, when set, are pods and GPUs that forgerPod (a tenant pod in
	// the namespace, which pods must create) claims on its own /metrics
	// under dcgm-exporter's names; see forgedSeries. They are served by
	// env.promForged only.
	forged func(ns, node string) []fleet.Pod
}

// start creates every fault's namespace and pods on a real API server, then
// backfills their GPU series, starting just after the pods were created (the
// deleter refuses a pod younger than its evidence), into a real Prometheus.
func start(t *testing.T, faults []fault) (*env, map[string]string) {
	t.Helper()
	ctx := context.Background()
	e := &env{cluster: kubetest.Start(t)}
	e.admin = e.cluster.Admin
	type nsPods struct {
		ns, node string
		f        fault
		pods     []fleet.Pod
	}
	var all []nsPods
	names := map[string]string{}
	for i, f := range faults {
		ns, node := fmt.Sprintf("fault-%02d", i+1), fmt.Sprintf("gpu-node-%02d", i+1)
		names[f.name] = ns
		pods := defaultPods(ns, node)
		if f.pods != nil {
			pods = f.pods(ns, node)
		}
		if err := e.cluster.Namespace(ctx, ns); err != nil {
			t.Fatal(err)
		}
		for _, p := range pods {
			if p.Name == "" || strings.ContainsAny(p.Name, "\"\\\n ") {
				continue // no pod (busy GPU without one) or a name Kubernetes would refuse
			}
			createPod(ctx, t, e.admin, p.Namespace, p.Name, p.Node)
		}
		all = append(all, nsPods{ns, node, f, pods})
	}
	from := time.Now().Add(2 * time.Second).Truncate(time.Second)
	e.from, e.at = from, from.Add(window+time.Minute)
	var om, omForged bytes.Buffer
	var series, forged []fleet.Series
	for _, np := range all {
		s := np.f.scrape
		if s.Metrics == nil {
			s.Metrics = fleet.AllMetrics()
		}
		layout := np.f.layout
		if layout == "" {
			layout = fleet.Honor
		}
		own := fleet.FleetSeries(np.pods, layout, from.Add(-np.f.history), e.at.Add(30*time.Minute), s)
		series = append(series, own...)
		if np.f.forged != nil {
			forged = append(forged, own...)
			forged = append(forged, forgedSeries(np.f.forged(np.ns, np.node), np.ns, from, e.at.Add(30*time.Minute), s)...)
		}
	}
	if err := fleet.WriteOpenMetrics(&om, series...); err != nil {
		t.Fatal(err)
	}
	e.prom = promtest.Start(t, om.Bytes())
	if len(forged) > 0 {
		if err := fleet.WriteOpenMetrics(&omForged, forged...); err != nil {
			t.Fatal(err)
		}
		e.promForged = promtest.Start(t, omForged.Bytes())
	}
	e.promTiny = promtest.Start(t, om.Bytes(), promtest.WithMaxSamples(10))
	e.am = amtest.Start(t, "route:\n  receiver: none\nreceivers:\n- name: none\n")
	return e, names
}

func defaultPods(ns, node string) []fleet.Pod {
	return []fleet.Pod{
		{Namespace: ns, Name: minerPod, Container: "main", Node: node, Profile: fleet.SteadyMiner(),
			GPUs: []fleet.GPUSpec{fleet.GPU(node, "0")}, ExpectMiner: true},
		{Namespace: ns, Name: trainPod, Container: "main", Node: node, Profile: fleet.FlatTraining(),
			GPUs: []fleet.GPUSpec{fleet.GPU(node, "1")}},
	}
}

// forgerPod is the tenant pod that serves forged GPU telemetry.
const forgerPod = "forger-0"

// forgedSeries are the series of claims as forgerPod in ns serves them on
// its own /metrics: dcgm-exporter's names and labels, scraped by a
// kubernetes-pods (annotation) job without honor_labels, so Prometheus
// renames the claimed namespace, pod and container to exported_* and
// writes the target's own. That is the exporter's layout behind a
// ServiceMonitor without honorLabels, served by the wrong target.
func forgedSeries(claims []fleet.Pod, ns string, from, to time.Time, s fleet.Scrape) []fleet.Series {
	out := fleet.FleetSeries(claims, fleet.Exported, from, to, s)
	for _, x := range out {
		x.Labels["namespace"], x.Labels["pod"], x.Labels["container"] = ns, forgerPod, "main"
		x.Labels["job"], x.Labels["instance"] = "kubernetes-pods", "10.244.250.9:8000"
	}
	return out
}

func createPod(ctx context.Context, t *testing.T, kube kubernetes.Interface, ns, name, node string) *corev1.Pod {
	t.Helper()
	p, err := kube.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "main", Image: "busybox"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s/%s: %v", ns, name, err)
	}
	return p
}

// fc is one fault's run: what it did, what it checked, what broke.
type fc struct {
	t          *testing.T
	e          *env
	ns         string
	did        []string
	checked    []string
	problems   []string
	w, l, d, s int
	logs       syncBuffer
}

// Problem kinds counted in the closing line.
const (
	wrongful = "W"
	lost     = "L"
	dup      = "D"
	other    = ""
)

// expect records a check; a failed one is a problem of its kind.
func (f *fc) expect(kind, what string, ok bool) {
	f.t.Helper()
	f.checked = append(f.checked, what)
	if ok {
		return
	}
	f.problems = append(f.problems, what)
	switch kind {
	case wrongful:
		f.w++
	case lost:
		f.l++
	case dup:
		f.d++
	}
	f.t.Errorf("broken: %s", what)
}

// setup is how a fault wires its cycle.
type setup struct {
	promURL string               // "" the real Prometheus
	kube    kubernetes.Interface // nil: the admin client
	slack   string               // Slack API URL; "" no Slack
	amURL   string               // Alertmanager; "" silences not read
	edit    func(cfg *config.Config)
}

func (f *fc) config(s setup) config.Config {
	cfg := config.Default()
	cfg.Prometheus.URL = cmp.Or(s.promURL, f.e.prom.URL)
	cfg.Prometheus.Timeout = config.Duration(15 * time.Second)
	cfg.Window = config.Duration(window)
	cfg.Query.Namespaces = []string{f.ns}
	cfg.Actions.Enforce = true
	cfg.Actions.StrikesToEnforce = 1
	cfg.State = config.State{ConfigMap: "miner-detector-state", Namespace: f.ns}
	cfg.Kubernetes.Timeout = config.Duration(10 * time.Second)
	cfg.CycleTimeout = config.Duration(30 * time.Second)
	cfg.Slack.Timeout = config.Duration(time.Second)
	if s.slack != "" {
		cfg.Slack.Token, cfg.Slack.Channel, cfg.Slack.APIURL = slackToken, "#gpu-abuse", s.slack
	}
	if s.amURL != "" {
		cfg.Actions.AlertmanagerSilences = config.AlertmanagerSilences{URL: s.amURL, SuppressEnforcement: true, Timeout: config.Duration(time.Second)}
	}
	if s.edit != nil {
		s.edit(&cfg)
	}
	return cfg
}

// cycle wires the real cycle (cycle.New, as run and scan do) for the fault.
func (f *fc) cycle(s setup) *cycle.Cycle {
	f.t.Helper()
	cfg := f.config(s)
	if err := cfg.Validate(); err != nil {
		f.t.Fatalf("config: %v", err)
	}
	kube := s.kube
	if kube == nil {
		kube = f.e.kubeClient(f.t, "", cfg.Kubernetes.Timeout.D())
	}
	c, err := cycle.New(cfg, cycle.Deps{Kube: kube, Metrics: metrics.New(),
		Log: slog.New(slog.NewJSONHandler(&f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		f.t.Fatalf("cycle: %v", err)
	}
	return c
}

// kubeClient is an admin client of the API server, or of a proxy in front
// of it (host), with the given per-request timeout.
func (e *env) kubeClient(t *testing.T, host string, timeout time.Duration) kubernetes.Interface {
	t.Helper()
	rc := rest.CopyConfig(e.cluster.AdminConfig())
	if host != "" {
		rc.Host = host
		rc.TLSClientConfig = rest.TLSClientConfig{}
	}
	rc.Timeout = timeout
	k, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// run runs cycle i (window end at + i minutes) and notes what it did; a
// cycle that has not returned within stallBound is stalled.
func (f *fc) run(c *cycle.Cycle, i int) (cycle.Result, error) {
	return f.runCtx(context.Background(), c, i)
}

func (f *fc) runCtx(parent context.Context, c *cycle.Cycle, i int) (cycle.Result, error) {
	f.t.Helper()
	return f.runAt(parent, c, i, f.e.at.Add(time.Duration(i)*time.Minute))
}

func (f *fc) runAt(parent context.Context, c *cycle.Cycle, i int, at time.Time) (cycle.Result, error) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(parent, stallBound)
	defer cancel()
	type ran struct {
		res cycle.Result
		err error
	}
	done := make(chan ran, 1)
	go func() {
		res, err := c.Run(ctx, at)
		done <- ran{res, err}
	}()
	var r ran
	select {
	case r = <-done:
	case <-time.After(stallBound + 15*time.Second):
		f.s++
		f.problems = append(f.problems, fmt.Sprintf("cycle %d never returned", i))
		f.t.Errorf("cycle %d never returned", i)
		return cycle.Result{}, fmt.Errorf("stalled")
	}
	if ctx.Err() != nil && parent.Err() == nil {
		f.s++
		f.problems = append(f.problems, fmt.Sprintf("cycle %d ran until the stall bound", i))
		f.t.Errorf("cycle %d stalled: ran until the stall bound", i)
	}
	f.did = append(f.did, describe(i, r.res, r.err))
	return r.res, r.err
}

// describe is a cycle's outcome in a few words.
func describe(i int, res cycle.Result, err error) string {
	ok := map[actions.StepKind]int{}
	failed := 0
	for _, o := range res.Outcomes {
		switch o.Result {
		case actions.ResultOK:
			ok[o.Kind]++
		case actions.ResultFailed:
			failed++
		}
	}
	var parts []string
	for _, k := range []actions.StepKind{actions.StepRecord, actions.StepNotify, actions.StepDelete} {
		if ok[k] > 0 {
			parts = append(parts, string(k))
		}
	}
	if failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", failed))
	}
	status := "ok"
	switch {
	case err != nil && strings.Contains(err.Error(), "warnings"):
		status = "partial, no action"
	case err != nil:
		status = "failed (" + short(err.Error()) + ")"
	}
	if len(parts) == 0 {
		parts = append(parts, "nothing")
	}
	return fmt.Sprintf("c%d %s: %s", i, status, strings.Join(parts, "+"))
}

// podGone reports whether the pod was deleted (gone or terminating).
func (f *fc) podGone(name string) bool {
	p, err := f.e.admin.CoreV1().Pods(f.ns).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true
	}
	if err != nil {
		f.t.Fatalf("get pod %s/%s: %v", f.ns, name, err)
	}
	return p.DeletionTimestamp != nil
}

// recorded reports whether a GPUMinerDetected Event names the pod.
func (f *fc) recorded(name string) bool {
	evs, err := f.e.admin.CoreV1().Events(f.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, ev := range evs.Items {
		if ev.Reason == actions.EventReasonDetected && ev.InvolvedObject.Name == name {
			return true
		}
	}
	return false
}

// trainingSpared is the check every fault makes: the flat-training pod, the
// old rule's false positive, is never deleted.
func (f *fc) trainingSpared() {
	f.expect(wrongful, "training pod not deleted", !f.podGone(trainPod))
}

// minerHandled checks that the finding was not lost once the fault cleared:
// recorded on the pod and the pod deleted.
func (f *fc) minerHandled() {
	f.expect(lost, "miner recorded", f.recorded(minerPod))
	f.expect(lost, "miner deleted", f.podGone(minerPod))
}

func (f *fc) finish(name string) row {
	return row{fault: name, did: strings.Join(f.did, "; "), checked: strings.Join(f.checked, ", "),
		held: len(f.problems) == 0, w: f.w, l: f.l, d: f.d, s: f.s}
}

// syncBuffer is a log sink shared by the cycle's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// short is the last part of an error chain, cut to fit a table cell.
func short(s string) string {
	if i := strings.LastIndex(s, ": "); i >= 0 && len(s)-i > 12 {
		s = s[i+2:]
	}
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return strings.ReplaceAll(s, "\n", " ")
}

// front is an HTTP proxy in front of a real server that fails on cue: while
// its injector returns true, it has answered the request itself.
type front struct {
	URL    string
	inject atomic.Pointer[func(w http.ResponseWriter, r *http.Request) bool]
	calls  atomic.Int64
}

func newFront(t *testing.T, target string, modify func(*http.Response) error) *front {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Header.Del("Accept-Encoding") // keep bodies readable for modify
		},
		Transport:      &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, // the test API server's self-signed cert
		ModifyResponse: modify,
	}
	fr := &front{}
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fr.calls.Add(1)
		// A held request ends when the client goes or the test ends: the
		// server only notices a client leaving once the body is read.
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		go func() {
			select {
			case <-stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		r = r.WithContext(ctx)
		if in := fr.inject.Load(); in != nil && (*in)(w, r) {
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) }) // runs first: releases held requests

	fr.URL = srv.URL
	return fr
}

// set installs an injector; nil forwards everything.
func (fr *front) set(in func(w http.ResponseWriter, r *http.Request) bool) {
	if in == nil {
		fr.inject.Store(nil)
		return
	}
	fr.inject.Store(&in)
}

// hang holds the request until the client gives up.
func hang(w http.ResponseWriter, r *http.Request) bool {
	_, _ = io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
	return true
}

// status answers every request with code and body.
func status(code int, body string, header ...string) func(w http.ResponseWriter, r *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
		return true
	}
}

// slackStandIn is a recording Slack stand-in behind a front that fails on
// cue.
type slackStandIn struct {
	*front
	rec *slackrecorder.Server
}

func newSlack(t *testing.T) *slackStandIn {
	rec := slackrecorder.Start()
	t.Cleanup(rec.Stop)
	return &slackStandIn{front: newFront(t, strings.TrimSuffix(rec.GetAPIURL(), "/"), nil), rec: rec}
}

func (s *slackStandIn) apiURL() string { return s.URL + "/" }

// threads are the top-level posts about the pod.
func (s *slackStandIn) threads(pod string) int {
	n := 0
	for _, p := range s.rec.TopLevel() {
		if strings.Contains(p.Text, pod) {
			n++
		}
	}
	return n
}

// replies are the posts in a thread about the pod.
func (s *slackStandIn) replies(pod string) int {
	n := 0
	for _, p := range s.rec.Posts() {
		if p.ThreadTS != "" && strings.Contains(p.Text, pod) {
			n++
		}
	}
	return n
}

// oneThread checks the pod's finding reached Slack exactly once.
func (f *fc) oneThread(s *slackStandIn, pod string) {
	n := s.threads(pod)
	f.expect(lost, "finding posted to Slack", n >= 1)
	if n > 1 {
		f.d += n - 2 // expect counts one
	}
	f.expect(dup, "one Slack thread", n <= 1)
}
