// Command throughput measures client-go's request throughput: N GETs of one small ConfigMap
// from a fixed number of goroutines, client-side rate limiting off (QPS < 0: no limiter), the
// same measurement bench/src/bin/throughput.rs makes for k8s-client and kube-rs. client-go
// speaks HTTP/2 to a TLS server by default (one connection, many streams).
//
//	throughput [--protobuf] [--requests 20000] [--concurrency 64]
//
// The ConfigMap (--name, in --namespace) is created when missing. One warm-up wave of
// `concurrency` GETs opens the connection, then the goroutines share the N GETs; any failed
// GET fails the run. Prints requests/s and CPU time (getrusage user + sys over the timed part)
// per request as one line of JSON, read by bench/run.sh.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"k8s-client.bench/go/internal/benchutil"
)

type result struct {
	Client          string  `json:"client"`
	Format          string  `json:"format"`
	Requests        int     `json:"requests"`
	Concurrency     int     `json:"concurrency"`
	WallS           float64 `json:"wall_s"`
	RequestsPerS    float64 `json:"requests_per_s"`
	CPUUsPerRequest float64 `json:"cpu_us_per_request"`
	PeakRssBytes    uint64  `json:"peak_rss_bytes"`
}

func main() {
	namespace := flag.String("namespace", "bench-throughput", "namespace of the ConfigMap")
	name := flag.String("name", "bench-small", "the ConfigMap read")
	requests := flag.Int("requests", 20000, "how many GETs")
	concurrency := flag.Int("concurrency", 64, "how many GETs in flight")
	protobuf := flag.Bool("protobuf", false, "request application/vnd.kubernetes.protobuf")
	flag.Parse()
	if err := run(*namespace, *name, *requests, *concurrency, *protobuf); err != nil {
		fmt.Fprintf(os.Stderr, "throughput (%s): %v\n", benchutil.Name(*protobuf), err)
		os.Exit(1)
	}
}

func ensure(ctx context.Context, clientset *kubernetes.Clientset, namespace, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if _, err := clientset.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"greeting": "hello"}}
	if _, err := clientset.CoreV1().ConfigMaps(namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// wave runs count GETs on concurrency goroutines; the first error, if any.
func wave(get func() error, count, concurrency int) error {
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for i := 0; i < concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(count) && failed.Load() == nil {
				if err := get(); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		return *err
	}
	return nil
}

func run(namespace, name string, requests, concurrency int, protobuf bool) error {
	config, err := benchutil.Config(protobuf)
	if err != nil {
		return err
	}
	config.QPS = -1 // no client-side rate limiter
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if err := ensure(ctx, clientset, namespace, name); err != nil {
		return err
	}
	cms := clientset.CoreV1().ConfigMaps(namespace)
	get := func() error {
		_, err := cms.Get(ctx, name, metav1.GetOptions{})
		return err
	}
	if err := wave(get, concurrency, concurrency); err != nil {
		return fmt.Errorf("warm-up GETs: %w", err)
	}
	before, start := benchutil.Now(), time.Now()
	if err := wave(get, requests, concurrency); err != nil {
		return fmt.Errorf("GETs: %w", err)
	}
	wall, after := time.Since(start).Seconds(), benchutil.Now()
	format := "json"
	if protobuf {
		format = "protobuf"
	}
	line, err := json.Marshal(result{
		Client: benchutil.Name(protobuf), Format: format, Requests: requests,
		Concurrency: concurrency, WallS: wall, RequestsPerS: float64(requests) / wall,
		CPUUsPerRequest: (after.CPUSeconds - before.CPUSeconds) * 1e6 / float64(requests),
		PeakRssBytes:    after.MaxRSSBytes,
	})
	if err != nil {
		return err
	}
	fmt.Println(string(line))
	return nil
}
