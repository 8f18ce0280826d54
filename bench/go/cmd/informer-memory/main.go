// Command informer-memory measures client-go's memory per cached Pod, the same way
// bench/src/bin/informer_memory.rs does for k8s-client and kube-rs: a SharedInformerFactory Pod
// informer over one namespace, heap bytes after sync minus before the informer was made, divided
// by the cached Pods. Go's number is runtime.MemStats.HeapAlloc after a forced GC (live heap
// objects), not an allocator counter, so it includes no allocator fragmentation either.
//
//	informer-memory --namespace bench-mem-10000 [--strip] [--protobuf]
//
// The kubeconfig comes from $KUBECONFIG. Prints one line of JSON, read by bench/run.sh.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"k8s-client.bench/go/internal/benchutil"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
)

type result struct {
	Client             string `json:"client"`
	StripManagedFields bool   `json:"strip_managed_fields"`
	Objects            int    `json:"objects"`
	BytesPerObject     uint64 `json:"bytes_per_object"`
	TotalBytes         uint64 `json:"total_bytes"`
	SyncMs             int64  `json:"sync_ms"`
	PeakRssBytes       uint64 `json:"peak_rss_bytes"`
}

func main() {
	namespace := flag.String("namespace", "bench-mem", "namespace whose Pods are cached")
	strip := flag.Bool("strip", false, "drop managedFields before objects are cached (SetTransform)")
	protobuf := flag.Bool("protobuf", false, "request application/vnd.kubernetes.protobuf")
	flag.Parse()
	if err := run(*namespace, *strip, *protobuf); err != nil {
		fmt.Fprintln(os.Stderr, "informer-memory:", err)
		os.Exit(1)
	}
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func run(namespace string, strip, protobuf bool) error {
	config, err := benchutil.Config(protobuf)
	if err != nil {
		return err
	}
	name := benchutil.Name(protobuf)
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}

	before := liveHeap()
	start := time.Now()
	factory := informers.NewSharedInformerFactoryWithOptions(clientset, 0, informers.WithNamespace(namespace))
	informer := factory.Core().V1().Pods().Informer()
	if strip {
		err := informer.SetTransform(func(obj interface{}) (interface{}, error) {
			if accessor, err := meta.Accessor(obj); err == nil {
				accessor.SetManagedFields(nil)
			}
			return obj, nil
		})
		if err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("%v did not sync", typ)
		}
	}
	took := time.Since(start)
	time.Sleep(time.Second)
	n := len(informer.GetStore().ListKeys())
	after := liveHeap()
	runtime.KeepAlive(informer)
	if n == 0 {
		return fmt.Errorf("nothing was cached in %s; seed the namespace first", namespace)
	}
	total := uint64(0)
	if after > before {
		total = after - before
	}
	line, err := json.Marshal(result{
		Client: name, StripManagedFields: strip, Objects: n,
		BytesPerObject: total / uint64(n), TotalBytes: total,
		SyncMs: took.Milliseconds(), PeakRssBytes: peakRss(),
	})
	if err != nil {
		return err
	}
	fmt.Println(string(line))
	return nil
}

// peakRss reads VmHWM (the peak resident set size) from /proc/self/status, in bytes.
func peakRss() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) >= 2 && fields[0] == "VmHWM:" {
			kb, _ := strconv.ParseUint(fields[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}
