// Package benchutil holds what the newer bench commands share: the client configuration from
// $KUBECONFIG and the process's resource usage from getrusage.
package benchutil

import (
	"fmt"
	"mime"
	"net/http"
	"syscall"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Config loads the client configuration from $KUBECONFIG (the default loading rules). With
// protobuf it asks for application/vnd.kubernetes.protobuf, JSON as the second choice; without,
// for application/json. The JSON choice must be explicit: client-go's typed clients for built-in
// kinds ask for protobuf when ContentType is unset (0.33 and 0.36 both do). Every response is
// checked: one in another format fails the request, so a row cannot measure the wrong format.
func Config(protobuf bool) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	config, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, err
	}
	want := "application/json"
	if protobuf {
		want = "application/vnd.kubernetes.protobuf"
		config.AcceptContentTypes = want + ",application/json"
	}
	config.ContentType = want
	config.WrapTransport = func(next http.RoundTripper) http.RoundTripper {
		return formatCheck{next: next, want: want}
	}
	return config, nil
}

// formatCheck fails any response whose body is not in the format the benchmark measures.
type formatCheck struct {
	next http.RoundTripper
	want string
}

func (f formatCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := f.next.RoundTrip(req)
	if err != nil || resp.Header.Get("Content-Type") == "" {
		return resp, err
	}
	if got, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); got != f.want {
		resp.Body.Close()
		return nil, fmt.Errorf("benchmark wants %s responses, %s %s answered %q", f.want, req.Method, req.URL.Path, got)
	}
	return resp, nil
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
