// Command list-pods lists the Pods of a namespace (first argument, default "default") with
// client-go and prints their names: the build benchmark's client-go program (bench/build.sh).
package main

import (
	"context"
	"fmt"
	"os"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	ns := "default"
	if len(os.Args) > 1 {
		ns = os.Args[1]
	}
	if err := run(ns); err != nil {
		fmt.Fprintln(os.Stderr, "list-pods:", err)
		os.Exit(1)
	}
}

func run(ns string) error {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	config, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return err
	}
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	pods, err := clientset.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, pod := range pods.Items {
		fmt.Println(pod.Name)
	}
	return nil
}
