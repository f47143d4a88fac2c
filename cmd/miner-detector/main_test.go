package main

import (
	"bytes"
	"context"
	"errors"
	"github.com/robfig/cron/v3"
	"strings"
	"testing"
	"time"
)

func TestParseAt(t *testing.T) {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	cases := map[string]time.Time{
		"":                          now,
		"2026-01-05T12:00:00Z":      time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC),
		"2026-01-05T13:00:00+01:00": time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC),
		"1767614400":                time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC),
		"1767614400.5":              time.Date(2026, 1, 5, 12, 0, 0, 5e8, time.UTC),
	}
	for in, want := range cases {
		got, err := parseAt(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseAt(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseAt("yesterday", now); err == nil || !strings.Contains(err.Error(), "--at") {
		t.Errorf("bad --at: %v", err)
	}
}

// A bad config stops start-up with the field and the reason, and exit code 2.
func TestBadFlagsStopStartup(t *testing.T) {
	cases := map[string][]string{
		"window: must be between 5m and 7d, got 3s": {"scan", "--prometheus-url", "http://127.0.0.1:1", "--window", "3s"},
		"prometheus.url: must be set":               {"scan"},
		"--output: must be table or json":           {"scan", "--prometheus-url", "http://127.0.0.1:1", "--output", "yaml"},
		"schedule:":                                 {"run", "--prometheus-url", "http://127.0.0.1:1", "--schedule", "every tuesday"},
		"read config":                               {"scan", "--config", "/nonexistent/config.yaml"},
	}
	for want, args := range cases {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: got %v, want error containing %q", args, err, want)
			continue
		}
		if code := exitCode(err); code != 2 {
			t.Errorf("%v: exit code %d, want 2", args, code)
		}
	}
}

func TestVersionAndUnknownCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, &out); err != nil || !strings.Contains(out.String(), "miner-detector dev") {
		t.Fatalf("version: %v %q", err, out.String())
	}
	if err := run(context.Background(), []string{"frobnicate"}, &out, &out); err == nil {
		t.Fatal("unknown command accepted")
	}
}

// scan against an unreachable Prometheus fails with the cause, and exit code 1.
func TestScanUnreachablePrometheus(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"scan", "--prometheus-url", "http://127.0.0.1:1", "--kubeconfig", ""}, &out, &errOut)
	if err == nil || exitCode(err) != 1 || errors.Is(err, context.Canceled) {
		t.Fatalf("got %v (exit %d), want a connection error", err, exitCode(err))
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("error does not say why: %v", err)
	}
}

func TestSchedulePeriod(t *testing.T) {
	now := time.Date(2026, 1, 5, 12, 1, 0, 0, time.UTC)
	for spec, want := range map[string]time.Duration{"*/5 * * * *": 5 * time.Minute, "@every 90s": 90 * time.Second, "0 * * * *": time.Hour} {
		s, err := cron.ParseStandard(spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := schedulePeriod(s, now); got != want {
			t.Errorf("schedulePeriod(%q) = %v; want %v", spec, got, want)
		}
	}
}
