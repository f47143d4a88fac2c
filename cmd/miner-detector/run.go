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
	if limit, why, err := applyMemoryLimit(); err != nil {
		log.Warn("no Go memory limit set", "err", err)
	} else {
		log.Info("go memory limit", "bytes", limit, "from", why)
	}
	kube, err := kubeClient(c.kubeconfig, cfg.Kubernetes.Timeout.D())
	if err != nil {
		return err
	}
	if kube == nil {
		log.Warn("no cluster access: findings are logged and posted, not recorded as Events; enforcing is impossible")
	} else {
		// Fail at start with the list, not at the first finding.
		missing, err := missingPermissions(ctx, kube, requiredPermissions(cfg))
		if err != nil {
			return fmt.Errorf("check permissions: %w", err)
		}
		if len(missing) > 0 {
			for _, p := range missing {
				log.Error("missing permission", "verb", p.Verb, "resource", p.Resource, "group", p.Group, "namespace", p.Namespace, "needed_for", p.Why)
			}
			return &permissionError{missing}
		}
	}
	sched, err := cron.ParseStandard(cfg.Schedule)
	if err != nil {
		return &configError{fmt.Errorf("schedule: %w", err)}
	}
	m := metrics.New()
	m.Settings(schedulePeriod(sched, time.Now()), cfg.Actions.Enforce)
	cyc, err := buildCycle(cfg, kube, m, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	d := &daemon{cycle: cyc, log: log, schedule: sched, onStart: *onStart}
	if cfg.LeaderElection.Enabled {
		if kube == nil {
			return &configError{errors.New("leaderElection.enabled: needs cluster access (in-cluster or --kubeconfig)")}
		}
		le := cfg.LeaderElection
		if le.Namespace == "" {
			return &configError{errors.New("leaderElection.namespace: must be set outside a pod (POD_NAMESPACE is empty)")}
		}
		d.election = &election{
			client: kube, namespace: le.Namespace, name: le.LeaseName, identity: le.Identity,
			leaseDuration: le.LeaseDuration.D(), renewDeadline: le.RenewDeadline.D(), retryPeriod: le.RetryPeriod.D(),
			release: true,
		}
	}
	return d.serve(ctx, ln, cfg)
}

// daemon runs cycles on the schedule (while it leads, with leader election)
// and serves the HTTP endpoints.
type daemon struct {
	cycle    *cycle.Cycle
	log      *slog.Logger
	schedule cron.Schedule
	onStart  bool // run the latest tick's cycle when starting to lead, if nobody ran it
	// election, when set, makes the daemon run cycles only while it holds
	// the Lease.
	election *election
	running  sync.Mutex // never two cycles at once
	ready    atomic.Bool
	leading  atomic.Bool
	// ran, when set, is called with each tick a cycle ran for (tests).
	ran func(tick time.Time)
}

// serve runs until ctx ends (SIGTERM): then it stops scheduling, waits for a
// running cycle, and only then gives up the Lease, so that the next leader
// never overlaps with this one's last cycle.
func (d *daemon) serve(ctx context.Context, ln net.Listener, cfg config.Config) error {
	srv := &http.Server{Handler: d.handler(), ReadHeaderTimeout: 10 * time.Second}
	httpErr := make(chan error, 1)
	go func() { httpErr <- srv.Serve(ln) }()
	d.log.Info("serving", "addr", ln.Addr().String(), "schedule", cfg.Schedule, "window", cfg.Window.String(),
		"enforce", cfg.Actions.Enforce, "leader_election", d.election != nil, "version", version)

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if d.election == nil {
			d.lead(runCtx, context.WithoutCancel(runCtx))
			return
		}
		d.election.campaign(runCtx, d.log, d.lead, d.setLeading)
	}()
	d.ready.Store(true)

	var err error
	select {
	case <-ctx.Done():
	case err = <-httpErr:
		err = fmt.Errorf("http server: %w", err)
	}
	d.log.Info("shutting down: waiting for a running cycle", "grace", shutdownGrace.String())
	d.ready.Store(false)
	stop()
	<-done
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutdownCtx); serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = fmt.Errorf("http shutdown: %w", serr)
	}
	d.log.Info("stopped")
	return err
}

func (d *daemon) setLeading(leading bool) {
	d.leading.Store(leading)
	if d.cycle.Metrics != nil {
		d.cycle.Metrics.Leader(leading)
	}
}

// lead runs cycles on the schedule until stop ends, then waits up to the
// grace period for a running cycle. Cycles run under hard: when it ends
// (leadership lost), a running cycle is cancelled at once.
func (d *daemon) lead(stop, hard context.Context) {
	if d.election == nil {
		d.setLeading(true)
	}
	cycleCtx, cancelCycles := context.WithCancel(hard)
	defer cancelCycles()
	sched := cron.New(cron.WithChain(cron.SkipIfStillRunning(cronLogger{d.log})), cron.WithLogger(cronLogger{d.log}))
	sched.Schedule(d.schedule, cron.FuncJob(func() { d.tick(cycleCtx, latestTick(d.schedule, time.Now())) }))
	sched.Start()
	if d.onStart {
		go d.tick(cycleCtx, latestTick(d.schedule, time.Now()))
	}
	<-stop.Done()
	stopped := sched.Stop()
	select {
	case <-stopped.Done():
	case <-hard.Done():
	case <-time.After(shutdownGrace):
		d.log.Warn("cycle still running after the grace period: cancelling it")
	}
	cancelCycles()
	d.running.Lock() // wait for an on-start cycle too
	d.running.Unlock()
}

// tick runs the cycle for one schedule tick, unless a cycle is running or
// the tick was already run (by this replica or an earlier leader).
func (d *daemon) tick(ctx context.Context, tick time.Time) {
	if !d.running.TryLock() {
		d.log.Warn("skipping tick: previous cycle still running", "tick", tick.UTC().Format(time.RFC3339))
		return
	}
	defer d.running.Unlock()
	if ctx.Err() != nil {
		return
	}
	claimed, err := d.cycle.ClaimTick(ctx, tick)
	if err != nil {
		d.log.Error("skipping tick: cannot record it in the state; running it could repeat a previous leader's cycle",
			"tick", tick.UTC().Format(time.RFC3339), "err", err)
		if d.cycle.Metrics != nil {
			d.cycle.Metrics.CyclesCounter(metrics.ResultFailed).Inc()
		}
		return
	}
	if !claimed {
		d.log.Info("skipping tick: already run", "tick", tick.UTC().Format(time.RFC3339))
		if d.cycle.Metrics != nil {
			d.cycle.Metrics.TickSkipped()
		}
		return
	}
	if d.ran != nil {
		d.ran(tick)
	}
	_, _ = d.cycle.Run(ctx, time.Now()) // Run logs and counts its own failures
}

// latestTick is the schedule's latest tick at or before now: the tick a cycle
// started now belongs to.
func latestTick(s cron.Schedule, now time.Time) time.Time {
	// Step back far enough to find a tick, doubling up to a year.
	for back := time.Minute; back <= 366*24*time.Hour; back *= 2 {
		t := s.Next(now.Add(-back))
		if t.IsZero() || t.After(now) {
			continue
		}
		for next := s.Next(t); !next.IsZero() && !next.After(now); next = s.Next(next) {
			t = next
		}
		return t
	}
	return now.Truncate(time.Second)
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
		// A standby replica is ready too: it serves its metrics and takes
		// over within a lease duration. Rollouts and PDBs must count it.
		role := "standby"
		if d.leading.Load() {
			role = "leader"
		}
		_, _ = io.WriteString(w, "ready: "+role+"\n")
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
func schedulePeriod(s cron.Schedule, now time.Time) time.Duration {
	next := s.Next(now)
	return s.Next(next).Sub(next)
}
