package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// election campaigns for a Lease; only its holder runs cycles.
type election struct {
	client                                    kubernetes.Interface
	namespace, name, identity                 string
	leaseDuration, renewDeadline, retryPeriod time.Duration
	// release gives the Lease up when the daemon stops, so the next replica
	// takes over at once instead of after the lease expires. Off only in
	// tests that simulate a crash.
	release bool
}

// campaign competes for the Lease until ctx ends. While leading it calls
// lead(stop, hard): stop ends on shutdown or lost leadership, hard only on
// lost leadership. On shutdown the Lease is released after lead returns, so
// the next leader never overlaps this one's last cycle. After losing the
// Lease it campaigns again.
func (e *election) campaign(ctx context.Context, log *slog.Logger, lead func(stop, hard context.Context), setLeading func(bool)) {
	log = log.With("lease", e.namespace+"/"+e.name, "identity", e.identity)
	for ctx.Err() == nil {
		if err := e.runOnce(ctx, log, lead, setLeading); err != nil {
			log.Error("leader election failed; retrying", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(e.retryPeriod):
			}
		}
	}
}

func (e *election) runOnce(ctx context.Context, log *slog.Logger, lead func(stop, hard context.Context), setLeading func(bool)) error {
	// The elector's context outlives ctx until lead has returned: releasing
	// the Lease while a cycle still runs would let another replica start one.
	electCtx, cancelElect := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelElect()
	led := make(chan struct{})
	var leading atomic.Bool
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: e.namespace, Name: e.name},
			Client:     e.client.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: e.identity},
		},
		LeaseDuration:   e.leaseDuration,
		RenewDeadline:   e.renewDeadline,
		RetryPeriod:     e.retryPeriod,
		ReleaseOnCancel: e.release,
		Name:            "miner-detector",
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(hard context.Context) {
				defer close(led)
				leading.Store(true)
				setLeading(true)
				log.Info("leading: running cycles")
				stop, cancel := context.WithCancel(hard)
				defer cancel()
				go func() {
					select {
					case <-ctx.Done():
					case <-hard.Done():
					}
					cancel()
				}()
				lead(stop, hard)
			},
			OnStoppedLeading: func() {
				setLeading(false)
				if leading.Load() {
					log.Info("stopped leading")
				}
			},
			OnNewLeader: func(id string) {
				if id != e.identity {
					log.Info("following", "leader", id)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("leader election %s/%s: %w", e.namespace, e.name, err)
	}
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-finished:
		case <-ctx.Done():
			if leading.Load() {
				<-led // the last cycle has finished (or been cancelled)
			}
			cancelElect()
		}
	}()
	le.Run(electCtx)
	if leading.Load() {
		<-led
	}
	return nil
}
