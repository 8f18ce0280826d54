package main

import (
	kcm "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

// runControllerManager runs the real kube-controller-manager with the given flags.
func runControllerManager(args []string) int {
	cmd := kcm.NewControllerManagerCommand()
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		return 1
	}
	return 0
}
