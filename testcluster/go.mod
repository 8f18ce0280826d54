module k8s-client/testcluster

go 1.24.0
