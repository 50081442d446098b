// Command etcd is a thin wrapper around go.etcd.io/etcd/server/v3/etcdmain, so that the etcd server can be
// built from the Go module proxy (the etcd repository's own main module is not needed).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
