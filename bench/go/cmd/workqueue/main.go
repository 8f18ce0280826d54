// Command workqueue measures client-go's work queue with an idle reconcile: N distinct keys
// are added, W workers Get, "reconcile" (nothing), Forget and Done each, and the keys per
// second through that loop are printed as one JSON line. bench/src/bin/reconcile_queue.rs
// runs the same loop over k8s-client's queue.
//
//	workqueue [--keys 200000] [--workers 2]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"k8s.io/client-go/util/workqueue"
)

func main() {
	keys := flag.Int("keys", 200000, "distinct keys")
	workers := flag.Int("workers", 2, "workers")
	flag.Parse()
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	names := make([]string, *keys)
	for i := range names {
		names[i] = fmt.Sprintf("ns-%d/obj-%d", i%100, i)
	}
	start := time.Now()
	var wg sync.WaitGroup
	var done sync.WaitGroup
	done.Add(*keys)
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k, shutdown := q.Get()
				if shutdown {
					return
				}
				q.Forget(k)
				q.Done(k)
				done.Done()
			}
		}()
	}
	for _, k := range names {
		q.Add(k)
	}
	done.Wait()
	elapsed := time.Since(start)
	q.ShutDown()
	wg.Wait()
	out, _ := json.Marshal(map[string]any{
		"client": "client-go", "keys": *keys, "workers": *workers,
		"seconds": elapsed.Seconds(), "keys_per_second": float64(*keys) / elapsed.Seconds(),
	})
	fmt.Fprintln(os.Stdout, string(out))
}
