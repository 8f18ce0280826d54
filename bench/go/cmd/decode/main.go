// Command decode measures how fast client-go decodes a Pod list body, JSON or protobuf, the
// same body bench/src/bin/decode.rs decodes for k8s-client and kube-rs.
//
//	decode --fetch --namespace bench-mem-10000 --out DIR   # saves DIR/pods.json and DIR/pods.pb once
//	decode --file DIR/pods.json [--iterations 5]           # decodes it N times, prints one JSON line
//
// Decoding goes through the client-go scheme's universal deserializer (what a typed client
// uses for responses), which picks JSON or protobuf from the body. With --fetch the kubeconfig
// comes from $KUBECONFIG and the bodies are read raw through the clientset's REST client.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
)

type result struct {
	Client      string  `json:"client"`
	Format      string  `json:"format"`
	Bytes       int     `json:"bytes"`
	Objects     int     `json:"objects"`
	Iterations  int     `json:"iterations"`
	SecondsEach float64 `json:"seconds_each"`
	MBPerS      float64 `json:"mb_per_s"`
	ObjectsPerS float64 `json:"objects_per_s"`
	// CPU time (user + system, all threads, the garbage collector's included) per decode.
	CPUSecondsEach float64 `json:"cpu_seconds_each"`
}

// cpuSeconds is the CPU time (user + system) the process has used so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	secs := func(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }
	return secs(ru.Utime) + secs(ru.Stime)
}

func main() {
	fetch := flag.Bool("fetch", false, "save the namespace's Pod list as JSON and protobuf in --out")
	namespace := flag.String("namespace", "bench-mem", "namespace to list (with --fetch)")
	out := flag.String("out", ".", "directory for the saved bodies (with --fetch)")
	file := flag.String("file", "", "saved list body to decode (.json or .pb)")
	iterations := flag.Int("iterations", 5, "how many times to decode the body")
	flag.Parse()
	var err error
	if *fetch {
		err = fetchBodies(*namespace, *out)
	} else {
		err = decode(*file, *iterations)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "decode:", err)
		os.Exit(1)
	}
}

func fetchBodies(namespace, out string) error {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	config, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return err
	}
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	for name, accept := range map[string]string{
		"pods.json": "application/json",
		"pods.pb":   "application/vnd.kubernetes.protobuf",
	} {
		body, err := clientset.CoreV1().RESTClient().Get().
			Namespace(namespace).Resource("pods").
			SetHeader("Accept", accept).
			DoRaw(context.Background())
		if err != nil {
			return fmt.Errorf("listing pods as %s: %w", accept, err)
		}
		if err := os.WriteFile(filepath.Join(out, name), body, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func decode(file string, iterations int) error {
	body, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	format := "json"
	if strings.HasSuffix(file, ".pb") {
		format = "protobuf"
	}
	decoder := scheme.Codecs.UniversalDeserializer()
	objects := 0
	once := func() error {
		obj, _, err := decoder.Decode(body, nil, &corev1.PodList{})
		if err != nil {
			return err
		}
		list, ok := obj.(*corev1.PodList)
		if !ok {
			return fmt.Errorf("decoded a %T, not a PodList", obj)
		}
		objects = len(list.Items)
		return nil
	}
	if err := once(); err != nil { // warm-up
		return err
	}
	start, cpuStart := time.Now(), cpuSeconds()
	for i := 0; i < iterations; i++ {
		if err := once(); err != nil {
			return err
		}
	}
	each := time.Since(start).Seconds() / float64(iterations)
	cpuEach := (cpuSeconds() - cpuStart) / float64(iterations)
	line, err := json.Marshal(result{
		Client: "client-go", Format: format, Bytes: len(body), Objects: objects,
		Iterations: iterations, SecondsEach: each,
		MBPerS:         float64(len(body)) / each / 1e6,
		ObjectsPerS:    float64(objects) / each,
		CPUSecondsEach: cpuEach,
	})
	if err != nil {
		return err
	}
	fmt.Println(string(line))
	return nil
}
