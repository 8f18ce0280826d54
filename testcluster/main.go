// Command testcluster runs a real Kubernetes control plane on 127.0.0.1 for the tests, demo
// and benchmarks of k8s-client: an embedded etcd and the real kube-apiserver in one process,
// with kube-controller-manager (and KWOK, a separate binary) as optional child processes.
//
// It is one multi-call binary so that etcd, kube-apiserver and kube-controller-manager share
// one compile:
//
//	testcluster up --dir DIR [--controller-manager] [--kwok PATH] [--keep-data] [-- extra apiserver flags]
//	testcluster kube-controller-manager [flags]   (what `up` starts as its child)
//
// `up` writes DIR/kubeconfig (contexts admin, admin-token, restricted), DIR/env (shell
// variables) and finally DIR/ready once /readyz answers; on SIGTERM or SIGINT it stops
// everything and removes its data directory (unless --keep-data: then a later `up` on the same
// DIR starts again from the same etcd data, ports, certificates and tokens).
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testcluster up|kube-controller-manager [flags]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "up":
		if err := up(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "testcluster: %v\n", err)
			os.Exit(1)
		}
	case "kube-controller-manager":
		os.Exit(runControllerManager(os.Args[2:]))
	default:
		fmt.Fprintf(os.Stderr, "testcluster: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}
