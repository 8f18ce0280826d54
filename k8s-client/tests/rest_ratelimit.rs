//! The client-side rate limiter against the real control plane: it is in the client's stack
//! and one bucket is shared by every clone. (The bucket's arithmetic is unit-tested on a
//! paused clock in src/rest/ratelimit.rs.)

use std::time::{Duration, Instant};

use k8s_client::config::RateLimit;
use k8s_client::Client;
use k8s_client_testsupport as ts;

#[tokio::test]
async fn thirty_gets_at_20_qps_burst_5_from_clones_take_at_least_1_25_seconds() {
    let mut config = ts::config("admin").await;
    config.rate_limit = Some(RateLimit::new(20.0, 5));
    let client = Client::try_from(config).unwrap();
    let start = Instant::now();
    // Half sequential, half from concurrent clones: they share one bucket.
    for _ in 0..15 {
        let request = http::Request::get("/version").body(Vec::new()).unwrap();
        client.request::<serde_json::Value>(request).await.unwrap();
    }
    let mut tasks = Vec::new();
    for _ in 0..15 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let request = http::Request::get("/version").body(Vec::new()).unwrap();
            c.request::<serde_json::Value>(request).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let took = start.elapsed();
    // 5 at once, then 25 at 20 a second: the clones drew from the one bucket (a bucket each
    // would let the 15 concurrent requests through in 0.5 s).
    assert!(took >= Duration::from_millis(1250), "took only {took:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[tokio::test]
async fn no_rate_limit_is_fast() {
    let mut config = ts::config("admin").await;
    config.rate_limit = None;
    let client = Client::try_from(config).unwrap();
    let start = Instant::now();
    for _ in 0..30 {
        let request = http::Request::get("/version").body(Vec::new()).unwrap();
        client.request::<serde_json::Value>(request).await.unwrap();
    }
    let took = start.elapsed();
    assert!(took < Duration::from_millis(1250), "took {took:?}");
}
