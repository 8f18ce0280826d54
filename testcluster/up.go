package main

import (
	"context"
	_ "embed"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
)

// RestrictedNamespace is the one namespace in which the "restricted" user may read.
const RestrictedNamespace = "restricted-ns"

type options struct {
	dir               string
	controllerManager bool
	kwok              string
	kwokArgs          string
	keepData          bool
	apiserverArgs     []string
}

func up(args []string) error {
	var o options
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	fs.StringVar(&o.dir, "dir", "", "directory for the kubeconfig, certificates, logs and data (required)")
	fs.BoolVar(&o.controllerManager, "controller-manager", false, "also run kube-controller-manager (garbage collection, namespace deletion, service-account tokens)")
	fs.StringVar(&o.kwok, "kwok", "", "path of a kwok binary to run against the control plane (fake nodes and pods)")
	fs.StringVar(&o.kwokArgs, "kwok-args", "", "extra space-separated flags for kwok")
	fs.BoolVar(&o.keepData, "keep-data", false, "keep DIR/data (etcd) on exit; when DIR holds the state of a previous --keep-data run, start from it again with the same ports, certificates and tokens")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.apiserverArgs = fs.Args()
	if o.dir == "" {
		return errors.New("--dir is required")
	}
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return err
	}
	o.dir = dir
	return run(o)
}

func run(o options) error {
	start := time.Now()
	pkiDir := filepath.Join(o.dir, "pki")
	dataDir := filepath.Join(o.dir, "data")
	for _, d := range []string{pkiDir, dataDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	// Whatever happens, a stale ready marker must not survive.
	_ = os.Remove(filepath.Join(o.dir, "ready"))
	if !o.keepData {
		defer os.RemoveAll(dataDir)
	}
	statePath := filepath.Join(o.dir, "state")
	ports, resumed, err := previousPorts(statePath, o.keepData)
	if err != nil {
		return err
	}
	if !resumed {
		if ports, err = freePorts(3); err != nil {
			return err
		}
		if err := setupPKI(o.dir, pkiDir, ports[0]); err != nil {
			return err
		}
	}
	p := &pki{dir: pkiDir}
	apiPort, etcdClient, etcdPeer := ports[0], ports[1], ports[2]
	server := fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	kubeconfig := filepath.Join(o.dir, "kubeconfig")

	etcd, err := startEtcd(dataDir, etcdClient, etcdPeer)
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	defer etcd.Close()

	args := []string{
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(apiPort),
		"--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none",
		"--authorization-mode=RBAC",
		"--etcd-servers=" + fmt.Sprintf("http://127.0.0.1:%d", etcdClient),
		"--cert-dir=" + pkiDir,
		"--tls-cert-file=" + p.path("apiserver.crt"),
		"--tls-private-key-file=" + p.path("apiserver.key"),
		"--client-ca-file=" + p.path("ca.crt"),
		"--token-auth-file=" + p.path("tokens.csv"),
		"--kubelet-client-certificate=" + p.path("kubelet-client.crt"),
		"--kubelet-client-key=" + p.path("kubelet-client.key"),
		"--kubelet-preferred-address-types=InternalIP",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + p.path("sa.pub"),
		"--service-account-signing-key-file=" + p.path("sa.key"),
		"--api-audiences=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--disable-admission-plugins=ServiceAccount",
		"--allow-privileged=true",
		"--profiling=false",
		"--enable-priority-and-fairness=false",
	}
	args = append(args, o.apiserverArgs...)

	// kube-apiserver installs its own SIGTERM/SIGINT handler and shuts down on it; we listen
	// as well, to stop the children, etcd and remove the data directory afterwards.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	apiDone := make(chan error, 1)
	go func() {
		cmd := apiserver.NewAPIServerCommand()
		cmd.SetArgs(args)
		cmd.SilenceUsage = true
		apiDone <- cmd.Execute()
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	err = waitReady(ctx, server, p, apiDone)
	cancel()
	if err != nil {
		return fmt.Errorf("kube-apiserver did not become ready: %w", err)
	}
	if !resumed {
		if err := setupRBAC(kubeconfig); err != nil {
			return fmt.Errorf("setting up the restricted user: %w", err)
		}
		if o.keepData {
			state := fmt.Sprintf("%d %d %d\n", apiPort, etcdClient, etcdPeer)
			if err := os.WriteFile(statePath, []byte(state), 0o600); err != nil {
				return err
			}
		}
	}

	var children []*exec.Cmd
	defer func() {
		for _, c := range children {
			_ = c.Process.Signal(syscall.SIGTERM)
		}
		for _, c := range children {
			waitOrKill(c, 10*time.Second)
		}
	}()
	if o.controllerManager {
		c, err := startControllerManager(o.dir, kubeconfig, p)
		if err != nil {
			return err
		}
		children = append(children, c)
	}
	if o.kwok != "" {
		c, err := startKwok(o.dir, o.kwok, kubeconfig, p, o.kwokArgs)
		if err != nil {
			return err
		}
		children = append(children, c)
	}

	env := fmt.Sprintf("KUBECONFIG=%s\nK8S_TESTCLUSTER_SERVER=%s\nK8S_TESTCLUSTER_DIR=%s\nK8S_TESTCLUSTER_PID=%d\n",
		kubeconfig, server, o.dir, os.Getpid())
	if err := os.WriteFile(filepath.Join(o.dir, "env"), []byte(env), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.dir, "ready"), []byte(time.Since(start).String()+"\n"), 0o600); err != nil {
		return err
	}
	fmt.Printf("testcluster: ready in %s at %s (kubeconfig %s)\n", time.Since(start).Round(time.Millisecond), server, kubeconfig)

	select {
	case s := <-sigs:
		fmt.Printf("testcluster: %s, stopping\n", s)
		_ = os.Remove(filepath.Join(o.dir, "ready"))
		select {
		case <-apiDone:
		case <-time.After(20 * time.Second):
			fmt.Println("testcluster: kube-apiserver did not stop within 20s")
		}
		return nil
	case err := <-apiDone:
		_ = os.Remove(filepath.Join(o.dir, "ready"))
		return fmt.Errorf("kube-apiserver exited: %v", err)
	}
}

// previousPorts reads the ports of a previous --keep-data run (API server, etcd client,
// etcd peer), when there was one.
func previousPorts(statePath string, keepData bool) ([]int, bool, error) {
	if !keepData {
		return nil, false, nil
	}
	b, err := os.ReadFile(statePath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var ports []int
	for _, f := range strings.Fields(string(b)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, false, fmt.Errorf("%s: bad port %q", statePath, f)
		}
		ports = append(ports, n)
	}
	if len(ports) != 3 {
		return nil, false, fmt.Errorf("%s: want 3 ports, found %d", statePath, len(ports))
	}
	return ports, true, nil
}

// setupPKI writes the certificates, tokens and kubeconfig of a new control plane.
func setupPKI(dir, pkiDir string, apiPort int) error {
	p, err := newPKI(pkiDir)
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	loop := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1"), net.ParseIP("10.0.0.1")}
	names := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	if err := p.issue("apiserver", "kube-apiserver", nil, loop, names, true); err != nil {
		return err
	}
	if err := p.issue("admin", "admin", []string{"system:masters"}, nil, nil, false); err != nil {
		return err
	}
	if err := p.issue("kubelet-client", "kube-apiserver-kubelet-client", []string{"system:masters"}, nil, nil, false); err != nil {
		return err
	}
	if err := p.issue("kubelet", "kwok-kubelet", nil, loop, []string{"localhost"}, true); err != nil {
		return err
	}
	if err := p.serviceAccountKeys(); err != nil {
		return err
	}
	tokens := map[string]string{}
	var tokenCSV strings.Builder
	for _, u := range []struct{ name, groups string }{
		{"admin-token", "system:masters"},
		{"admin-token-2", "system:masters"},
		{"restricted", ""},
	} {
		t := randomToken()
		tokens[u.name] = t
		fmt.Fprintf(&tokenCSV, "%s,%s,%s-uid,\"%s\"\n", t, u.name, u.name, u.groups)
	}
	if err := os.WriteFile(p.path("tokens.csv"), []byte(tokenCSV.String()), 0o600); err != nil {
		return err
	}

	server := fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	return writeKubeconfig(filepath.Join(dir, "kubeconfig"), server, p, tokens)
}

func randomToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func waitReady(ctx context.Context, server string, p *pki, apiDone <-chan error) error {
	caPEM, err := os.ReadFile(p.path("ca.crt"))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(p.path("admin.crt"), p.path("admin.key"))
	if err != nil {
		return err
	}
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}},
	}
	last := "no answer yet"
	for {
		select {
		case err := <-apiDone:
			return fmt.Errorf("kube-apiserver exited during start-up: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("%w (last /readyz: %s)", ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
		resp, err := client.Get(server + "/readyz")
		if err != nil {
			last = err.Error()
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		last = resp.Status
	}
}

func waitOrKill(c *exec.Cmd, d time.Duration) {
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		_ = c.Process.Kill()
		<-done
	}
}

func startChild(dir, name, bin string, args []string) (*exec.Cmd, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	c := exec.Command(bin, args...)
	c.Stdout, c.Stderr = logf, logf
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	fmt.Printf("testcluster: started %s (pid %d, log %s)\n", name, c.Process.Pid, logf.Name())
	return c, nil
}

func startControllerManager(dir, kubeconfig string, p *pki) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return startChild(dir, "kube-controller-manager", self, []string{
		"kube-controller-manager",
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--leader-elect=false",
		"--use-service-account-credentials=false",
		"--service-account-private-key-file=" + p.path("sa.key"),
		"--root-ca-file=" + p.path("ca.crt"),
		"--cluster-signing-cert-file=" + p.path("ca.crt"),
		"--controllers=*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-service-lb-controller,-route",
	})
}

//go:embed kwok-stages.yaml
var kwokStages []byte

// startKwok runs KWOK: it manages the nodes annotated kwok.x-k8s.io/node=fake (and their
// pods) with its default stages, and serves their kubelet API (logs, exec, attach,
// port-forward) over TLS on 127.0.0.1, where the apiserver reaches it.
func startKwok(dir, bin, kubeconfig string, p *pki, extra string) (*exec.Cmd, error) {
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(ports[0])
	stages := filepath.Join(dir, "kwok-stages.yaml")
	logs := filepath.Join(dir, "kwok-pod.log")
	if err := os.WriteFile(logs, []byte("2026-01-01T00:00:00.000000000Z stdout F kwok pod log line 1\n2026-01-01T00:00:01.000000000Z stdout F kwok pod log line 2\n"), 0o600); err != nil {
		return nil, err
	}
	conf := strings.ReplaceAll(string(kwokStages), "KWOK_LOGS_FILE", logs)
	if err := os.WriteFile(stages, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	args := []string{
		"--config=" + stages,
		"--server-address=127.0.0.1:" + port,
		"--node-port=" + port,
		"--tls-cert-file=" + p.path("kubelet.crt"),
		"--tls-private-key-file=" + p.path("kubelet.key"),
		"--kubeconfig=" + kubeconfig,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--manage-nodes-with-label-selector=",
		"--disregard-status-with-annotation-selector=kwok.x-k8s.io/status=custom",
		"--disregard-status-with-label-selector=",
		"--node-ip=127.0.0.1",
		"--cidr=10.0.1.0/24",
	}
	args = append(args, strings.Fields(extra)...)
	return startChild(dir, "kwok", bin, args)
}
