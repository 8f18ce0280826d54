//! The kubeconfig file model (stub; being implemented).
#![allow(missing_docs)]
#[derive(Debug)] pub struct AuthInfo;
#[derive(Debug)] pub struct Cluster;
#[derive(Debug)] pub struct Context;
#[derive(Clone, Debug)] pub struct ExecConfig;
#[derive(Debug)] pub struct ExecEnvVar;
#[derive(Debug)] pub enum ExecInteractiveMode {}
#[derive(Debug)] pub struct Kubeconfig;
#[derive(Debug)] pub struct NamedAuthInfo;
#[derive(Debug)] pub struct NamedCluster;
#[derive(Debug)] pub struct NamedContext;
