package main

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miner-detector/miner-detector/internal/hungserver"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// An API server that accepts the connection and never answers fails each
// request after kubernetes.timeout instead of hanging the cycle.
func TestKubeClientTimesOutOnAHungAPIServer(t *testing.T) {
	hung := hungserver.Start(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: hung, cluster: {server: "`+hung.URL+`"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: hung, user: u}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	kube, err := kubeClient(kubeconfig, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = kube.CoreV1().Pods("team-a").Get(ctx, "p", metav1.GetOptions{})
	if ctx.Err() != nil {
		t.Fatal("the request hung until the test's context ended")
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a client timeout", err)
	}
	if hung.Accepted() == 0 {
		t.Fatal("the API server was never called")
	}
}
