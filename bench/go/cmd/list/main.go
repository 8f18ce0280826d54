// Command list times one LIST of a namespace's Pods with client-go (no limit: one request,
// one response), the same measurement bench/src/bin/list.rs makes for k8s-client and kube-rs.
//
//	list --namespace bench-mem-10000 [--protobuf]
//
// A limit=1 LIST in the same format first opens the connection, so the figures are the big
// LIST alone: wall time, CPU time (getrusage user + sys, after minus before) and the peak RSS
// (ru_maxrss) at the end with the list still alive. The kubeconfig comes from $KUBECONFIG.
// Prints one line of JSON, read by bench/run.sh.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"k8s-client.bench/go/internal/benchutil"
)

type result struct {
	Client       string  `json:"client"`
	Format       string  `json:"format"`
	Objects      int     `json:"objects"`
	WallMs       float64 `json:"wall_ms"`
	CPUMs        float64 `json:"cpu_ms"`
	PeakRssBytes uint64  `json:"peak_rss_bytes"`
}

func main() {
	namespace := flag.String("namespace", "bench-mem-10000", "namespace whose Pods are listed")
	protobuf := flag.Bool("protobuf", false, "request application/vnd.kubernetes.protobuf")
	flag.Parse()
	if err := run(*namespace, *protobuf); err != nil {
		fmt.Fprintf(os.Stderr, "list (%s): %v\n", benchutil.Name(*protobuf), err)
		os.Exit(1)
	}
}

func run(namespace string, protobuf bool) error {
	config, err := benchutil.Config(protobuf)
	if err != nil {
		return err
	}
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	pods := clientset.CoreV1().Pods(namespace)
	ctx := context.Background()
	if _, err := pods.List(ctx, metav1.ListOptions{Limit: 1}); err != nil { // warm-up: connect
		return err
	}
	before, start := benchutil.Now(), time.Now()
	list, err := pods.List(ctx, metav1.ListOptions{})
	wall, after := time.Since(start), benchutil.Now()
	if err != nil {
		return err
	}
	if list.Continue != "" {
		return fmt.Errorf("the server paged the list; the benchmark wants one response")
	}
	if len(list.Items) == 0 {
		return fmt.Errorf("the list of %s is empty; seed it first", namespace)
	}
	format := "json"
	if protobuf {
		format = "protobuf"
	}
	line, err := json.Marshal(result{
		Client: benchutil.Name(protobuf), Format: format, Objects: len(list.Items),
		WallMs:       float64(wall.Microseconds()) / 1e3,
		CPUMs:        (after.CPUSeconds - before.CPUSeconds) * 1e3,
		PeakRssBytes: benchutil.Now().MaxRSSBytes,
	})
	runtime.KeepAlive(list)
	if err != nil {
		return err
	}
	fmt.Println(string(line))
	return nil
}
