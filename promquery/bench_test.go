package promquery_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/internal/embedded"
	"github.com/miner-detector/miner-detector/promquery"
)

// BenchmarkRead1kGPUs24h reads a 24 h window of 1,000 GPUs scraped every
// 15 s (5.76 M samples) through the embedded engine: five range queries of
// 72 steps (20 m chunks), joined per series.
func BenchmarkRead1kGPUs24h(b *testing.B) {
	benchRead(b, 24*time.Hour, []string{"DCGM_FI_DEV_GPU_UTIL"}, 1)
}

// One hour of 1,000 GPUs with every family dcgm-exporter can export (17):
// utilization per chunk, the others as window-level statistics.
func BenchmarkRead1kGPUs1hAllFamilies(b *testing.B) {
	metrics := append([]string{"DCGM_FI_DEV_GPU_UTIL"}, slices.Sorted(maps.Values(promquery.DefaultProfilingMetrics()))...)
	benchRead(b, time.Hour, metrics, 0.01)
}

// benchRead loads 1,000 GPUs (8 a node) scraped every 15 s with every
// metric over the window, values (i % 100) × scale, and reads the window.
func benchRead(b *testing.B, window time.Duration, metrics []string, scale float64) {
	const gpus, interval = 1000, 15 * time.Second
	p, err := embedded.OpenTemp()
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	values := make([]float64, int(window/interval))
	for i := range values {
		values[i] = float64(i%100) * scale
	}
	for g := range gpus {
		for _, m := range metrics {
			l := map[string]string{"__name__": m, "Hostname": fmt.Sprintf("node-%03d", g/8),
				"gpu": fmt.Sprint(g % 8), "UUID": fmt.Sprintf("GPU-%04d", g), "namespace": "ns", "pod": fmt.Sprintf("pod-%04d", g)}
			if err := p.AppendEvery(l, readEnd.Add(-window).Add(interval), interval, values); err != nil {
				b.Fatal(err)
			}
		}
	}
	r, err := promquery.NewReader(p, promquery.DefaultConfig(), 0, 100)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := r.Read(context.Background(), readEnd, window)
		if err != nil || len(res.Input.Series) != gpus*len(metrics) {
			b.Fatalf("%v, %d series", err, len(res.Input.Series))
		}
	}
}
