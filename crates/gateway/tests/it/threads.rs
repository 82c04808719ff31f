//! `serve_on_threads`: several current-thread runtimes on one port, one gateway state.

use std::time::Duration;

use ebb_gateway::{Gateway, GatewayConfig, ServiceConfig};
use futures::future::join_all;
use prometheus_client::registry::Registry;

use crate::support::*;

#[tokio::test]
async fn threads_share_one_port_and_one_state_and_stop_on_request() {
    let mut registry = Registry::default();
    let (gateway, _wakeups) = Gateway::new(
        GatewayConfig::new(vec![ServiceConfig::new("svc")]),
        &mut registry,
    )
    .unwrap();
    let model = FakeModel::new("m").held().run().await;
    let replica = gateway.add_replica("svc", model.addr).unwrap();
    gateway.set_ready(replica, true).unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers = gateway
        .serve_on_threads("127.0.0.1:0".parse().unwrap(), 2, stopped)
        .unwrap();
    let addr = workers.local_addr();
    assert_ne!(addr.port(), 0);

    // Requests arriving on either thread are counted in the one service state.
    let clients: Vec<_> = (0..8)
        .map(|_| tokio::spawn(get(addr, "svc.localhost", "/")))
        .collect();
    eventually("all eight at the replica", || model.arrivals() == 8).await;
    assert_eq!(gateway.observe().services[0].in_flight, 8);
    model.release(8);
    for reply in join_all(clients).await {
        assert_eq!(reply.unwrap().status.as_u16(), 200);
    }

    stop.send(true).unwrap();
    let joined = tokio::task::spawn_blocking(move || workers.join());
    within("the threads to stop", joined)
        .await
        .unwrap()
        .expect("clean shutdown");
    let refused =
        tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await;
    assert!(
        matches!(refused, Ok(Err(_))),
        "nothing listens after shutdown: {refused:?}"
    );
}
