// Command etcd is the etcd server, built from go.etcd.io/etcd/server/v3 for
// `make kube-test` (Debian's etcd is too old for current API servers).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
