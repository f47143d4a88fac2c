package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miner-detector/miner-detector/internal/config"
	"github.com/miner-detector/miner-detector/internal/cycle"
	"github.com/miner-detector/miner-detector/internal/metrics"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/robfig/cron/v3"
)

// shutdownGrace is how long SIGTERM waits for a running cycle to finish.
const shutdownGrace = 25 * time.Second

func runCommand(ctx context.Context, args []string, _, stderr io.Writer) error {
	c := newCommon("run", stderr, "json")
	listen := c.fs.String("listen", "", "address for /metrics, /healthz and /readyz (overrides listen; default :8080)")
	schedule := c.fs.String("schedule", "", `cron schedule of cycles (overrides schedule; default "*/5 * * * *")`)
	onStart := c.fs.Bool("run-on-start", true, "run one cycle at start-up, before the first tick")
	cfg, err := c.load(args)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *schedule != "" {
		cfg.Schedule = *schedule
		if err := cfg.Validate(); err != nil {
			return &configError{err}
		}
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	kube, err := kubeClient(c.kubeconfig)
	if err != nil {
		return err
	}
	if kube == nil {
		log.Warn("no cluster access: findings are logged and posted, not recorded as Events; enforcing is impossible")
	}
	m := metrics.New()
	period, err := schedulePeriod(cfg.Schedule, time.Now())
	if err != nil {
		return &configError{fmt.Errorf("schedule: %w", err)}
	}
	m.Settings(period, cfg.Actions.Enforce)
	cyc, err := buildCycle(cfg, kube, m, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	d := &daemon{cycle: cyc, log: log}
	return d.serve(ctx, ln, cfg, *onStart)
}

// daemon runs cycles on the schedule and serves the HTTP endpoints.
type daemon struct {
	cycle   *cycle.Cycle
	log     *slog.Logger
	running sync.Mutex // never two cycles at once
	ready   atomic.Bool
}

// serve runs until ctx ends (SIGTERM), then waits for a running cycle.
func (d *daemon) serve(ctx context.Context, ln net.Listener, cfg config.Config, onStart bool) error {
	srv := &http.Server{Handler: d.handler(), ReadHeaderTimeout: 10 * time.Second}
	httpErr := make(chan error, 1)
	go func() { httpErr <- srv.Serve(ln) }()
	d.log.Info("serving", "addr", ln.Addr().String(), "schedule", cfg.Schedule, "window", cfg.Window.String(),
		"enforce", cfg.Actions.Enforce, "version", version)

	cycleCtx, cancelCycles := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCycles()
	sched := cron.New(cron.WithChain(cron.SkipIfStillRunning(cronLogger{d.log})), cron.WithLogger(cronLogger{d.log}))
	if _, err := sched.AddFunc(cfg.Schedule, func() { d.tick(cycleCtx) }); err != nil {
		return &configError{fmt.Errorf("schedule: %w", err)}
	}
	sched.Start()
	d.ready.Store(true)
	if onStart {
		go d.tick(cycleCtx)
	}

	select {
	case <-ctx.Done():
	case err := <-httpErr:
		sched.Stop()
		return fmt.Errorf("http server: %w", err)
	}
	d.log.Info("shutting down: waiting for a running cycle", "grace", shutdownGrace.String())
	d.ready.Store(false)
	stopped := sched.Stop()
	select {
	case <-stopped.Done():
	case <-time.After(shutdownGrace):
		d.log.Warn("cycle still running after the grace period: cancelling it")
		cancelCycles()
	}
	d.running.Lock() // wait for an on-start cycle too
	d.running.Unlock()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http shutdown: %w", err)
	}
	d.log.Info("stopped")
	return nil
}

// tick runs one cycle unless one is running.
func (d *daemon) tick(ctx context.Context) {
	if !d.running.TryLock() {
		d.log.Warn("skipping tick: previous cycle still running")
		return
	}
	defer d.running.Unlock()
	_, _ = d.cycle.Run(ctx, time.Now()) // Run logs and counts its own failures
}

// handler serves /metrics, /healthz (the process is alive) and /readyz (the
// scheduler is running). Readiness does not follow Prometheus's health: the
// detector's own metrics, which carry the "cycles failing" alert, must stay
// scrapable exactly when Prometheus queries fail.
func (d *daemon) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(d.cycle.Metrics.Registry, promhttp.HandlerOpts{Registry: d.cycle.Metrics.Registry}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !d.ready.Load() {
			http.Error(w, "not ready\n", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	return mux
}

// cronLogger adapts slog to robfig/cron's logger.
type cronLogger struct{ log *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.log.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.log.Error("cron: "+msg, append(kv, "err", err)...)
}

// schedulePeriod is the time between the schedule's next two ticks.
func schedulePeriod(spec string, now time.Time) (time.Duration, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return 0, err
	}
	next := s.Next(now)
	return s.Next(next).Sub(next), nil
}
