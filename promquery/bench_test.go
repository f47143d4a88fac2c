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
// 288 steps, joined per series.
func BenchmarkRead1kGPUs24h(b *testing.B) {
	const gpus, window, interval = 1000, 24 * time.Hour, 15 * time.Second
	p, err := embedded.OpenTemp()
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	n := int(window / interval)
	values := make([]float64, n)
	for i := range values {
		values[i] = float64(i % 100)
	}
	for g := range gpus {
		l := map[string]string{"__name__": "DCGM_FI_DEV_GPU_UTIL", "Hostname": fmt.Sprintf("node-%03d", g/8),
			"gpu": fmt.Sprint(g % 8), "UUID": fmt.Sprintf("GPU-%04d", g), "namespace": "ns", "pod": fmt.Sprintf("pod-%04d", g)}
		if err := p.AppendEvery(l, readEnd.Add(-window).Add(interval), interval, values); err != nil {
			b.Fatal(err)
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
		if err != nil || len(res.Input.Series) != gpus {
			b.Fatalf("%v, %d series", err, len(res.Input.Series))
		}
	}
}

// One hour of 1,000 GPUs with every family dcgm-exporter can export (17):
// utilization per chunk, the others as window-level statistics.
func BenchmarkRead1kGPUs1hAllFamilies(b *testing.B) {
	const gpus, window, interval = 1000, time.Hour, 15 * time.Second
	p, err := embedded.OpenTemp()
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	n := int(window / interval)
	values := make([]float64, n)
	for i := range values {
		values[i] = float64(i%100) / 100
	}
	metrics := append([]string{"DCGM_FI_DEV_GPU_UTIL"}, slices.Sorted(maps.Values(promquery.DefaultProfilingMetrics()))...)
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
