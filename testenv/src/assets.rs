//! A control plane from separate binaries in a `KUBEBUILDER_ASSETS` directory (the layout
//! `setup-envtest` produces): `etcd`, `kube-apiserver` and, for the controller manager,
//! `kube-controller-manager`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::certs::{write_pki, Pki};
use crate::error::Error;
use crate::process::{free_port, tail, Group, Proc};

/// The binaries of a `KUBEBUILDER_ASSETS` directory.
#[derive(Debug, Clone)]
pub(crate) struct Assets {
    etcd: PathBuf,
    apiserver: PathBuf,
    controller_manager: Option<PathBuf>,
}

fn executable(dir: &Path, name: &str) -> Option<PathBuf> {
    let path = dir.join(name);
    let meta = std::fs::metadata(&path).ok()?;
    use std::os::unix::fs::PermissionsExt;
    (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then_some(path)
}

impl Assets {
    /// Finds the binaries in `dir`; `kube-controller-manager` is required only when
    /// `controller_manager` is asked for.
    pub(crate) fn find(dir: &Path, controller_manager: bool) -> Result<Assets, Error> {
        let need = |name: &str| {
            executable(dir, name).ok_or_else(|| Error::MissingBinary {
                name: name.to_string(),
                path: dir.join(name),
                hint: "KUBEBUILDER_ASSETS must name a directory with etcd and kube-apiserver, as setup-envtest produces",
            })
        };
        let etcd = need("etcd")?;
        let apiserver = need("kube-apiserver")?;
        let controller_manager = if controller_manager {
            Some(executable(dir, "kube-controller-manager").ok_or_else(|| Error::MissingBinary {
                name: "kube-controller-manager".to_string(),
                path: dir.join("kube-controller-manager"),
                hint: "the controller manager was asked for, but setup-envtest does not ship it: add the binary or turn controller_manager off",
            })?)
        } else {
            None
        };
        Ok(Assets {
            etcd,
            apiserver,
            controller_manager,
        })
    }
}

/// The state of an assets control plane that survives a restart: ports, certificates, data.
#[derive(Debug)]
pub(crate) struct AssetsPlane {
    assets: Assets,
    dir: PathBuf,
    pki: Pki,
    api_port: u16,
    etcd_port: u16,
    peer_port: u16,
    apiserver_flags: Vec<String>,
}

impl AssetsPlane {
    /// Prepares `dir` (certificates, kubeconfig) without starting anything.
    pub(crate) fn prepare(
        assets: Assets,
        dir: &Path,
        apiserver_flags: Vec<String>,
    ) -> Result<AssetsPlane, Error> {
        let pki_dir = dir.join("pki");
        std::fs::create_dir_all(&pki_dir).map_err(Error::io("creating", &pki_dir))?;
        std::fs::create_dir_all(dir.join("etcd"))
            .map_err(Error::io("creating", dir.join("etcd")))?;
        let pki = write_pki(&pki_dir)?;
        let plane = AssetsPlane {
            assets,
            dir: dir.to_path_buf(),
            pki,
            api_port: free_port()?,
            etcd_port: free_port()?,
            peer_port: free_port()?,
            apiserver_flags,
        };
        plane.write_kubeconfig()?;
        Ok(plane)
    }

    pub(crate) fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    fn write_kubeconfig(&self) -> Result<(), Error> {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: testenv\n  cluster:\n    server: https://127.0.0.1:{}\n    certificate-authority: {}\nusers:\n- name: admin\n  user:\n    client-certificate: {}\n    client-key: {}\ncontexts:\n- name: admin\n  context: {{cluster: testenv, user: admin}}\ncurrent-context: admin\n",
            self.api_port,
            self.pki.ca_cert.display(),
            self.pki.admin_cert.display(),
            self.pki.admin_key.display(),
        );
        let path = self.kubeconfig();
        std::fs::write(&path, text).map_err(Error::io("writing", &path))
    }

    fn etcd_args(&self) -> Vec<String> {
        let client = format!("http://127.0.0.1:{}", self.etcd_port);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        vec![
            "--name=testenv".into(),
            format!("--data-dir={}", self.dir.join("etcd").display()),
            format!("--listen-client-urls={client}"),
            format!("--advertise-client-urls={client}"),
            format!("--listen-peer-urls={peer}"),
            format!("--initial-advertise-peer-urls={peer}"),
            format!("--initial-cluster=testenv={peer}"),
            "--unsafe-no-fsync=true".into(),
            "--log-level=warn".into(),
        ]
    }

    fn apiserver_args(&self) -> Vec<String> {
        let p = &self.pki;
        let issuer = format!("https://127.0.0.1:{}", self.api_port);
        let mut args = vec![
            "--bind-address=127.0.0.1".to_string(),
            "--advertise-address=127.0.0.1".into(),
            format!("--secure-port={}", self.api_port),
            format!("--etcd-servers=http://127.0.0.1:{}", self.etcd_port),
            format!("--cert-dir={}", self.dir.join("pki").display()),
            format!("--tls-cert-file={}", p.serving_cert.display()),
            format!("--tls-private-key-file={}", p.serving_key.display()),
            format!("--client-ca-file={}", p.ca_cert.display()),
            "--authorization-mode=RBAC".into(),
            format!("--service-account-issuer={issuer}"),
            format!("--service-account-key-file={}", p.sa_pub.display()),
            format!("--service-account-signing-key-file={}", p.sa_key.display()),
            "--service-cluster-ip-range=10.0.0.0/24".into(),
            "--endpoint-reconciler-type=none".into(),
            "--disable-admission-plugins=ServiceAccount".into(),
            "--allow-privileged=true".into(),
        ];
        args.extend(self.apiserver_flags.iter().cloned());
        args
    }

    fn controller_manager_args(&self) -> Vec<String> {
        let kubeconfig = self.kubeconfig();
        let p = &self.pki;
        vec![
            format!("--kubeconfig={}", kubeconfig.display()),
            format!("--authentication-kubeconfig={}", kubeconfig.display()),
            format!("--authorization-kubeconfig={}", kubeconfig.display()),
            "--bind-address=127.0.0.1".into(),
            "--secure-port=0".into(),
            "--leader-elect=false".into(),
            "--use-service-account-credentials=false".into(),
            format!("--service-account-private-key-file={}", p.sa_key.display()),
            format!("--root-ca-file={}", p.ca_cert.display()),
            format!("--cluster-signing-cert-file={}", p.ca_cert.display()),
            format!("--cluster-signing-key-file={}", p.ca_key.display()),
            "--controllers=*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-service-lb-controller,-route".into(),
        ]
    }

    /// Starts etcd, waits until it accepts connections, then kube-apiserver (the caller
    /// waits until it is ready), in one process group.
    pub(crate) async fn start(&self, timeout: Duration) -> Result<Group, Error> {
        let etcd = Proc::spawn(
            "etcd",
            &self.assets.etcd,
            &self.etcd_args(),
            self.dir.join("etcd.log"),
            None,
        )?;
        let mut group = Group::new(vec![etcd], &self.dir);
        let started = Instant::now();
        loop {
            group.check_alive()?;
            if tokio::net::TcpStream::connect(("127.0.0.1", self.etcd_port))
                .await
                .is_ok()
            {
                break;
            }
            if started.elapsed() > timeout {
                return Err(Error::NotReady {
                    timeout,
                    waiting_for: format!("etcd on port {}", self.etcd_port),
                    log: self.dir.join("etcd.log"),
                    tail: tail(&self.dir.join("etcd.log")),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let pgid = group.id();
        let apiserver = Proc::spawn(
            "kube-apiserver",
            &self.assets.apiserver,
            &self.apiserver_args(),
            self.dir.join("kube-apiserver.log"),
            pgid,
        )?;
        group.procs.push(apiserver);
        Ok(group)
    }

    /// Starts the controller manager (when the assets have it) into `group`.
    pub(crate) fn start_controller_manager(&self, group: &mut Group) -> Result<(), Error> {
        if let Some(kcm) = &self.assets.controller_manager {
            let proc = Proc::spawn(
                "kube-controller-manager",
                kcm,
                &self.controller_manager_args(),
                self.dir.join("kube-controller-manager.log"),
                group.id(),
            )?;
            group.procs.push(proc);
        }
        Ok(())
    }

    /// The log to show when the API server is not ready.
    pub(crate) fn apiserver_log(&self) -> PathBuf {
        self.dir.join("kube-apiserver.log")
    }
}
