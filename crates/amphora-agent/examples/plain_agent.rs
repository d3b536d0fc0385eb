//! Serves the agent over plain HTTP for the upstream-client check
//! (`tests/upstream/octavia_client.py`): `plain_agent <base_dir> <port>`.

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let base = args.next().expect("base dir");
    let port: u16 = args.next().expect("port").parse().expect("port");
    let mut cfg = neutrino_amphora_agent::AgentConfig::new(
        "5d1c6f0e-4a63-4f4e-9a7b-1a2b3c4d5e6f",
        std::path::PathBuf::from(&base),
    );
    cfg.config_file = Some(std::path::Path::new(&base).join("amphora-agent.toml"));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    neutrino_amphora_agent::serve(cfg, listener, None, std::future::pending())
        .await
        .expect("serve");
}
