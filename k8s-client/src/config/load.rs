//! Loading (stub; being implemented).
#![allow(missing_docs)]
use super::Config;
#[derive(Debug, Default)] pub struct KubeConfigOptions;
impl Config {
    pub async fn infer() -> Result<Config, crate::Error> { todo!() }
}
