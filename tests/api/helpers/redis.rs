//! A real `redis-server` per test, on a free loopback port.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use qqbind::codes::{CodeStore, MemoryStore, RedisStore};

use super::*;

// ---------------------------------------------------------------- Redis fixture

/// A real `redis-server` on a free loopback port, stopped on drop.
pub struct RedisServer {
    child: Child,
    pub port: u16,
    /// The TLS port, for a server started with [`RedisServer::start_tls`].
    pub tls_port: Option<u16>,
}

/// Whether the Redis server answering on `port` is the process `pid` (ours, not another
/// test's server that took the port first).
fn is_our_redis(port: u16, pid: u32) -> bool {
    use std::io::{Read, Write};
    let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_millis(500)));
    if conn.write_all(b"INFO server\r\n").is_err() {
        return false;
    }
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    let needle = format!("process_id:{pid}\r\n");
    while let Ok(n) = conn.read(&mut buf) {
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
        if String::from_utf8_lossy(&reply).contains(&needle) {
            return true;
        }
    }
    false
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl RedisServer {
    /// Starts one; a port taken meanwhile by someone else means another try elsewhere.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// One that also speaks TLS (`rediss://`) with `certs`, on [`Self::tls_port`].
    pub fn start_tls(certs: &super::tls::Certs) -> Self {
        Self::start_with(Some(certs))
    }

    fn start_with(certs: Option<&super::tls::Certs>) -> Self {
        for _ in 0..5 {
            let port = free_port();
            let tls_port = certs.map(|_| free_port());
            let mut args: Vec<String> = [
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--port",
            ]
            .map(str::to_owned)
            .into();
            args.push(port.to_string());
            if let (Some(c), Some(tls)) = (certs, tls_port) {
                args.extend([
                    "--tls-port".to_owned(),
                    tls.to_string(),
                    "--tls-cert-file".to_owned(),
                    c.cert.display().to_string(),
                    "--tls-key-file".to_owned(),
                    c.key.display().to_string(),
                    "--tls-ca-cert-file".to_owned(),
                    c.ca.display().to_string(),
                    "--tls-auth-clients".to_owned(),
                    "no".to_owned(),
                ]);
            }
            let mut child = Command::new("redis-server")
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server must be installed for the tests (apt-get install -y redis-server; .ci/run does it)");
            let started = Instant::now();
            loop {
                if child.try_wait().unwrap().is_some() {
                    break; // it could not bind: try another port
                }
                if is_our_redis(port, child.id()) {
                    return Self {
                        child,
                        port,
                        tls_port,
                    };
                }
                if started.elapsed() > Duration::from_secs(10) {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("redis-server did not start");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A code store of `kind` for store-level tests (keep the server alive while used).
pub async fn code_store(kind: StoreKind) -> (CodeStore, Option<RedisServer>) {
    match kind {
        StoreKind::Memory => (CodeStore::Memory(MemoryStore::new()), None),
        StoreKind::Redis => {
            let server = RedisServer::start();
            let store = RedisStore::new(&server.url()).expect("pool");
            store.ping().await.expect("redis answers");
            (CodeStore::Redis(store), Some(server))
        }
    }
}
