// Package benchutil holds what the newer bench commands share: the client configuration from
// $KUBECONFIG and the process's resource usage from getrusage.
package benchutil

import (
	"syscall"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Config loads the client configuration from $KUBECONFIG (the default loading rules). With
// protobuf it asks for application/vnd.kubernetes.protobuf, JSON as the second choice.
func Config(protobuf bool) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	config, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, err
	}
	if protobuf {
		config.ContentType = "application/vnd.kubernetes.protobuf"
		config.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	}
	return config, nil
}

// Name is the client's name in the reports: "client-go" or "client-go protobuf".
func Name(protobuf bool) string {
	if protobuf {
		return "client-go protobuf"
	}
	return "client-go"
}

// Usage is the CPU time (user + system, seconds) the process has used so far and its peak
// resident set size (ru_maxrss, bytes).
type Usage struct {
	CPUSeconds  float64
	MaxRSSBytes uint64
}

// Now reads getrusage(RUSAGE_SELF).
func Now() Usage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	secs := func(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }
	// Linux reports ru_maxrss in KiB.
	return Usage{CPUSeconds: secs(ru.Utime) + secs(ru.Stime), MaxRSSBytes: uint64(ru.Maxrss) * 1024}
}
