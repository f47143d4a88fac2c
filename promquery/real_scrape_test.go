package promquery_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/analyzer"
	"github.com/miner-detector/miner-detector/internal/promtest"
	"github.com/miner-detector/miner-detector/promquery"
	"github.com/prometheus/common/model"
)

// fakeSeries is one GPU's series on a fake /metrics: its labels as the
// endpoint writes them, and its utilization and tensor-pipe activity at the
// n-th scrape.
type fakeSeries struct {
	labels         string
	util, tensorAt func(n int64) float64
}

// training varies like an input pipeline; flat is a miner's 100 %.
func training(n int64) float64 { return float64(40 + (n*7)%50) }
func flat(int64) float64       { return 100 }
func busyPipe(int64) float64   { return 0.45 }
func idlePipe(int64) float64   { return 0 }

// fakeMetrics serves series in Prometheus's text format, one sample each per
// scrape, on 127.0.0.1.
func fakeMetrics(t *testing.T, series []fakeSeries) *httptest.Server {
	t.Helper()
	var scrapes atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := scrapes.Add(1)
		var b strings.Builder
		b.WriteString("# TYPE DCGM_FI_DEV_GPU_UTIL gauge\n")
		for _, s := range series {
			fmt.Fprintf(&b, "DCGM_FI_DEV_GPU_UTIL{%s} %g\n", s.labels, s.util(n))
		}
		b.WriteString("# TYPE DCGM_FI_PROF_PIPE_TENSOR_ACTIVE gauge\n")
		for _, s := range series {
			fmt.Fprintf(&b, "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE{%s} %g\n", s.labels, s.tensorAt(n))
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte(b.String()))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func gpu(node, index string) string {
	return fmt.Sprintf(`gpu="%s",UUID="GPU-%s-%s",Hostname="%s",modelName="NVIDIA H100 80GB HBM3"`, index, node, index, node)
}

// A real Prometheus scrapes two fake dcgm-exporters and a tenant's /metrics
// that forges dcgm-exporter series, in both label layouts: exporter A behind
// a job that honors its labels (the chart's ServiceMonitor with honorLabels),
// exporter B and the tenant behind a kubernetes-pods-like job without
// honor_labels, whose target labels name the pod scraped. The forger frames
// two training pods with flat-100, idle-pipe series and masks two mining
// pods with training-like ones. The trust boundary must leave the verdicts
// to the exporters' series and report the forger.
func TestRealScrapeForgedSeriesNeitherFrameNorMask(t *testing.T) {
	exporterA := fakeMetrics(t, []fakeSeries{
		{gpu("node-1", "0") + `,namespace="team-a",pod="train-0",container="main"`, training, busyPipe},
		{gpu("node-1", "1") + `,namespace="team-b",pod="miner-0",container="main"`, flat, idlePipe},
	})
	exporterB := fakeMetrics(t, []fakeSeries{
		{gpu("node-2", "0") + `,namespace="team-c",pod="train-1",container="main"`, training, busyPipe},
		{gpu("node-2", "1") + `,namespace="team-b",pod="miner-1",container="main"`, flat, idlePipe},
	})
	tenant := fakeMetrics(t, []fakeSeries{
		// Framing: flat 100 % on idle pipes, naming the training pods.
		{gpu("node-1", "0") + `,namespace="team-a",pod="train-0",container="main",job="nvidia-dcgm-exporter"`, flat, idlePipe},
		{gpu("node-2", "0") + `,namespace="team-c",pod="train-1",container="main"`, flat, idlePipe},
		// Masking: training-like series naming the forger's own pods.
		{gpu("node-1", "1") + `,namespace="team-b",pod="miner-0",container="main"`, training, busyPipe},
		{gpu("node-2", "1") + `,namespace="team-b",pod="miner-1",container="main"`, training, busyPipe},
		// A pod that does not exist.
		{gpu("node-3", "0") + `,namespace="ghost",pod="no-such-pod"`, flat, idlePipe},
	})
	host := func(s *httptest.Server) string { u, _ := url.Parse(s.URL); return u.Host }
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1m
scrape_configs:
- job_name: nvidia-dcgm-exporter
  honor_labels: true
  static_configs:
  - targets: [%q]
    labels: {namespace: gpu-operator, pod: nvidia-dcgm-exporter-aaaaa}
- job_name: kubernetes-pods
  honor_labels: false
  static_configs:
  - targets: [%q]
    labels: {namespace: gpu-operator, pod: nvidia-dcgm-exporter-bbbbb}
  - targets: [%q]
    labels: {namespace: team-b, pod: miner-0}
`, host(exporterA), host(exporterB), host(tenant))
	srv := promtest.StartScraping(t, cfg)
	api := client(t, srv.URL)

	// Scrape until every series holds 25 samples (about 25 s at 1 s). Every
	// read below ends its window at the time that held, so each series holds
	// about 25 samples there however long the reads take.
	ctx := context.Background()
	deadline := time.Now().Add(50 * time.Second)
	var at time.Time
	for {
		at = time.Now()
		v, _, _, err := api.Query(ctx, `min(count_over_time(DCGM_FI_DEV_GPU_UTIL[2m])) >= 25 and count(count_over_time(DCGM_FI_DEV_GPU_UTIL[2m])) == 9`, at)
		if err != nil {
			t.Fatal(err)
		}
		if vec, ok := v.(model.Vector); ok && len(vec) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus at %s has not scraped 25 samples of the 9 series in 50 s (last answer %v)", srv.URL, v)
		}
		time.Sleep(time.Second)
	}

	qc := promquery.DefaultConfig()
	qc.Chunk, qc.Segments = time.Minute, 1
	qc.Profiling = map[analyzer.Signal]string{analyzer.SignalTensor: "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE"}
	qc.ProfilingAliases = nil
	ac := analyzer.DefaultConfig()
	ac.MinCoverage = 0.1 // 25+ samples of the 120 a 2m window holds at 1s
	ac.ScrapeInterval = time.Second
	read := func(qc promquery.Config) (promquery.Result, analyzer.Report) {
		t.Helper()
		r, err := promquery.NewReader(api, qc, ac.ValidMin, ac.ValidMax)
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.Read(ctx, at, 2*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Warnings) > 0 {
			t.Fatalf("warnings: %v", res.Warnings)
		}
		return res, analyzer.Analyze(res.Input, ac)
	}

	res, rep := read(qc)
	// utilMean is the pod's first GPU's mean utilization in rep, or -1.
	utilMean := func(rep analyzer.Report, pod string) float64 {
		for _, p := range rep.Pods {
			if p.Namespace+"/"+p.Pod == pod && len(p.GPUs) > 0 {
				return p.GPUs[0].Mean
			}
		}
		return -1
	}
	trainMean := utilMean(rep, "team-a/train-0")
	verdicts := map[string]analyzer.Verdict{}
	for _, p := range rep.Pods {
		verdicts[p.Namespace+"/"+p.Pod] = p.Verdict
	}
	for pod, want := range map[string]bool{"team-a/train-0": false, "team-c/train-1": false, "team-b/miner-0": true, "team-b/miner-1": true} {
		v, ok := verdicts[pod]
		if !ok {
			t.Errorf("%s: no verdict (got %v)", pod, verdicts)
			continue
		}
		if (v == analyzer.Miner) != want {
			t.Errorf("%s: verdict %s, want miner=%v", pod, v, want)
		}
	}
	if _, ok := verdicts["ghost/no-such-pod"]; ok {
		t.Error("the forged series naming a pod that does not exist got a verdict")
	}
	for _, s := range res.Input.Series {
		if s.GPU.Node == "node-3" {
			t.Errorf("a forged series was judged: %+v", s.GPU)
		}
	}
	if len(res.Input.Series) != 8 { // 4 GPUs × 2 signals, the exporters' only
		t.Errorf("%d series judged, want the exporters' 8", len(res.Input.Series))
	}

	if len(res.Untrusted) != 1 {
		t.Fatalf("untrusted targets %+v, want the tenant's one", res.Untrusted)
	}
	u := res.Untrusted[0]
	if u.Job != "kubernetes-pods" || u.Instance != host(tenant) || u.Namespace != "team-b" || u.Pod != "miner-0" {
		t.Errorf("forger reported as %s/%s %s/%s, want kubernetes-pods/%s team-b/miner-0", u.Job, u.Instance, u.Namespace, u.Pod, host(tenant))
	}
	claimed := map[string]bool{}
	for _, c := range u.Claims {
		claimed[c.Workload.Namespace+"/"+c.Workload.Pod+"@"+c.GPU.UUID] = true
	}
	for _, want := range []string{"team-a/train-0@GPU-node-1-0", "team-c/train-1@GPU-node-2-0", "team-b/miner-0@GPU-node-1-1",
		"team-b/miner-1@GPU-node-2-1", "ghost/no-such-pod@GPU-node-3-0"} {
		if !claimed[want] {
			t.Errorf("claim %s not reported; got %v", want, claimed)
		}
	}
	if u.Series != 5 || strings.Join(u.Metrics, ",") != "DCGM_FI_DEV_GPU_UTIL,DCGM_FI_PROF_PIPE_TENSOR_ACTIVE" {
		t.Errorf("forger served %d label sets of %v, want 5 of utilization and tensor", u.Series, u.Metrics)
	}

	// The control: trusting the tenant's job and namespace lets the forged
	// series in, so the scenario above did exercise the forgery.
	open := qc
	open.TrustedTargets.Namespaces = append(open.TrustedTargets.Namespaces, "team-b")
	open.TrustedTargets.Pods = "."
	// Issue 19 measured the framed pods becoming miners and the masked ones
	// benign. Here each pod's two series (the exporter's and the forger's,
	// about 25 samples each) fit one 1m chunk together, so the analyzer
	// merges them as one exporter's series across a restart
	// (analyzer.group.chunks): the miners' flat 100 % is diluted by the
	// training-like forgeries (masked), and the training pods' numbers by
	// flat 100 % (not enough to frame them in this short window; the fault
	// matrix's forged-telemetry row frames one on full chunks when trusted).
	// The pod that does not exist becomes a miner of its own.
	res, rep = read(open)
	if len(res.Untrusted) != 0 || len(res.Input.Series) != 18 {
		t.Errorf("trusting the tenant: %d series judged, %d untrusted targets; want all 18 judged", len(res.Input.Series), len(res.Untrusted))
	}
	control := map[string]analyzer.Verdict{}
	for _, p := range rep.Pods {
		control[p.Namespace+"/"+p.Pod] = p.Verdict
	}
	if control["team-b/miner-0"] == analyzer.Miner || control["team-b/miner-1"] == analyzer.Miner || control["ghost/no-such-pod"] != analyzer.Miner {
		t.Errorf("trusting the tenant: verdicts %v, want the forgery to mask team-b/miner-0 and miner-1 and make ghost/no-such-pod a miner", control)
	}
	if got := utilMean(rep, "team-a/train-0"); got < trainMean+10 {
		t.Errorf("trusting the tenant: team-a/train-0's mean utilization %.1f, want the forged flat 100 %% to raise it from %.1f", got, trainMean)
	}
}
