// Command kube-apiserver is the upstream Kubernetes API server, built from
// the k8s.io/kubernetes module at the version of client-go the detector
// uses. The tests start it on 127.0.0.1 with RBAC on to prove the chart's
// permissions; it is never shipped.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
