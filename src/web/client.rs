//! Who is asking: the client's address behind trusted proxies, as the abuse limits, the
//! audit log and the session list know it.

use actix_web::HttpRequest;

use crate::state::AppState;

/// The client's address: the socket's peer, or, when that peer is a trusted proxy
/// (`TRUSTED_PROXIES`), the nearest `X-Forwarded-For` entry that is not.
pub fn client_ip(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> std::net::IpAddr {
    use std::net::IpAddr;
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    // Right to left: each trusted hop appended the address it saw.
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .unwrap_or(peer)
}

/// The client of `req`, as the abuse limits and the audit log know it.
pub fn client(state: &AppState, req: &HttpRequest) -> crate::limits::Client {
    crate::limits::Client::new(client_ip(req, &state.settings.trusted_proxies))
}
