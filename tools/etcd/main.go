// Command etcd is the upstream etcd server, the storage the test
// kube-apiserver needs. It is built only for tests and never shipped.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
