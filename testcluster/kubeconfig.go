package main

import (
	"fmt"
	"os"
	"strings"
)

// writeKubeconfig writes a kubeconfig with three contexts against one cluster:
// "admin" (client certificate, system:masters; the current context), "admin-token"
// (static bearer token, system:masters) and "restricted" (static token, read-only in
// RestrictedNamespace). Certificate paths are absolute so the file can be used from anywhere.
func writeKubeconfig(path, server string, p *pki, tokens map[string]string) error {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: v1
kind: Config
clusters:
- name: testcluster
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: admin
  user:
    client-certificate: %s
    client-key: %s
- name: admin-token
  user:
    token: %s
- name: admin-token-2
  user:
    token: %s
- name: restricted
  user:
    token: %s
contexts:
- name: admin
  context: {cluster: testcluster, user: admin}
- name: admin-token
  context: {cluster: testcluster, user: admin-token}
- name: admin-token-2
  context: {cluster: testcluster, user: admin-token-2}
- name: restricted
  context: {cluster: testcluster, user: restricted, namespace: %s}
current-context: admin
`, server, p.path("ca.crt"), p.path("admin.crt"), p.path("admin.key"),
		tokens["admin-token"], tokens["admin-token-2"], tokens["restricted"], RestrictedNamespace)
	return os.WriteFile(path, []byte(b.String()), 0o600)
}
