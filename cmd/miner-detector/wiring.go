package main

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/miner-detector/miner-detector/internal/config"
	"github.com/miner-detector/miner-detector/internal/cycle"
	"github.com/miner-detector/miner-detector/internal/metrics"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// kubeClient returns a client from the kubeconfig, or in-cluster config;
// nil with a nil error when neither exists. Every request is bounded by
// timeout (kubernetes.timeout): an API server that accepts and never
// answers fails the request, not the cycle.
func kubeClient(kubeconfig string, timeout time.Duration) (kubernetes.Interface, error) {
	var rc *rest.Config
	var err error
	switch {
	case kubeconfig != "":
		rc, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	default:
		rc, err = rest.InClusterConfig()
		if errors.Is(err, rest.ErrNotInCluster) {
			return nil, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes client config: %w", err)
	}
	rc.UserAgent = "miner-detector/" + version
	rc.Timeout = timeout
	return kubernetes.NewForConfig(rc)
}

// buildCycle wires a cycle from the configuration; configuration errors are
// marked as such (exit code 2).
func buildCycle(cfg config.Config, kube kubernetes.Interface, m *metrics.Metrics, log *slog.Logger) (*cycle.Cycle, error) {
	c, err := cycle.New(cfg, cycle.Deps{Kube: kube, Metrics: m, Log: log})
	var ce *cycle.ConfigError
	if errors.As(err, &ce) {
		return nil, &configError{ce.Err}
	}
	return c, err
}
