//! Where a request came from, behind load balancers and proxies.
//!
//! Off by default: the client is the TCP peer. An operator who puts Vestibule behind a proxy
//! lists it in `trusted_proxies`. A request whose peer is trusted may then name the client in
//! `Forwarded` (RFC 7239) or `X-Forwarded-For`; the address used is the right-most one not
//! itself a trusted proxy, since everything left of that was written by the client and can say
//! anything. With `edge.proxy_protocol` on, the edge listeners expect a PROXY protocol v2
//! header at the start of every connection (what a TCP load balancer sends, as TLS ends at the
//! nodes); its source address counts only when the peer sending it is trusted.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use vestibule_domain::ClientAddress;

/// Networks whose requests may say who the client is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<(IpAddr, u8)>,
}

impl TrustedProxies {
    /// Parses `10.0.0.0/8`, `192.0.2.7`, `2001:db8::/32`, …
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut networks = Vec::new();
        for entry in entries {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let (address, prefix) = match entry.split_once('/') {
                Some((address, prefix)) => (address, Some(prefix)),
                None => (entry, None),
            };
            let address: IpAddr = address
                .parse()
                .map_err(|_| format!("{entry} is not an IP address or network"))?;
            let max = if address.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                Some(prefix) => prefix
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= max)
                    .ok_or_else(|| format!("{entry}: the prefix length is 0 to {max}"))?,
                None => max,
            };
            networks.push((address, prefix));
        }
        Ok(Self { networks })
    }

    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.networks
            .iter()
            .any(|(network, prefix)| within(address, canonical(*network), *prefix))
    }
}

/// An IPv4 address written as IPv6 (`::ffff:10.0.0.1`, what a dual-stack socket reports) is
/// the IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn within(address: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// The client behind `peer`: `peer` itself unless it is a trusted proxy that named one.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    if !trusted.contains(peer) {
        return canonical(peer);
    }
    let chain = forwarded_chain(headers);
    // Right to left: the first hop that is not one of ours is the client as far as anyone we
    // trust can tell.
    for hop in chain.iter().rev() {
        if !trusted.contains(*hop) {
            return canonical(*hop);
        }
    }
    chain.first().copied().map_or(canonical(peer), canonical)
}

/// The addresses `Forwarded` names (`for=`), or else `X-Forwarded-For`'s, in order. An entry
/// that is not an address (`unknown`, an obfuscated name) ends the chain there: nothing to
/// its left can be attributed.
fn forwarded_chain(headers: &HeaderMap) -> Vec<IpAddr> {
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                name.eq_ignore_ascii_case("for").then_some(value.trim())
            })
        })
        .collect();
    let entries: Vec<String> = if forwarded.is_empty() {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|entry| entry.trim().to_string())
            .collect()
    } else {
        forwarded.into_iter().map(str::to_string).collect()
    };
    let mut chain = Vec::new();
    for entry in entries.iter().rev() {
        match parse_node(entry) {
            Some(address) => chain.push(address),
            None => break,
        }
    }
    chain.reverse();
    chain
}

/// `192.0.2.7`, `192.0.2.7:4711`, `"[2001:db8::1]:4711"`, `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Ok(address) = node.parse::<IpAddr>() {
        return Some(address);
    }
    if let Ok(socket) = node.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    let inner = node.strip_prefix('[')?.split(']').next()?;
    inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

/// `router` with every request's [`ClientAddress`] set from its connection and, when the
/// connection is from a trusted proxy, the forwarding headers. Every listener applies it once.
pub fn with_client_address(router: Router, trusted: Arc<TrustedProxies>) -> Router {
    router.layer(axum::middleware::from_fn_with_state(
        trusted,
        set_client_address,
    ))
}

async fn set_client_address(
    State(trusted): State<Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    if let Some(peer) = peer {
        let client = client_address(peer, request.headers(), &trusted);
        request.extensions_mut().insert(ClientAddress(client));
    }
    next.run(request).await
}

/// The PROXY protocol v2 signature (section 2.2 of the HAProxy specification).
const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// Addresses and TLVs: generous for the TLVs cloud load balancers add, small enough that a
/// connection cannot make us buffer much.
const MAX_PROXY_PAYLOAD: usize = 4096;
/// A proxy sends its header at once; a client that does not is not a proxy.
const PROXY_HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// What a PROXY protocol header said about a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeader {
    /// The proxy's own connection (a health check): the peer is the client.
    Local,
    /// Relayed for this client.
    Proxied(SocketAddr),
}

/// Reads a PROXY protocol v2 header from the start of `tcp`, exactly its bytes, and returns
/// the client the connection is for: the source the header names when `peer` is trusted,
/// `peer` otherwise. Fails (and the connection is dropped) without a valid header.
pub async fn accept_proxied(
    tcp: &mut TcpStream,
    peer: SocketAddr,
    trusted: &TrustedProxies,
) -> std::io::Result<SocketAddr> {
    let header = tokio::time::timeout(PROXY_HEADER_TIMEOUT, read_proxy_header(tcp))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no PROXY header"))??;
    Ok(match header {
        ProxyHeader::Proxied(source) if trusted.contains(peer.ip()) => source,
        ProxyHeader::Proxied(source) => {
            tracing::warn!(%peer, %source, "PROXY header from a peer not in trusted_proxies; using the peer's address");
            peer
        }
        ProxyHeader::Local => peer,
    })
}

async fn read_proxy_header(tcp: &mut TcpStream) -> std::io::Result<ProxyHeader> {
    let mut fixed = [0u8; 16];
    tcp.read_exact(&mut fixed).await?;
    let length = usize::from(u16::from_be_bytes([fixed[14], fixed[15]]));
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    if length > MAX_PROXY_PAYLOAD {
        return Err(invalid("PROXY header too long"));
    }
    let mut payload = vec![0u8; length];
    tcp.read_exact(&mut payload).await?;
    parse_proxy_header(&fixed, &payload).map_err(invalid)
}

/// Parses the 16 fixed bytes and the payload of a PROXY protocol v2 header.
pub fn parse_proxy_header(fixed: &[u8; 16], payload: &[u8]) -> Result<ProxyHeader, &'static str> {
    if fixed[..12] != SIGNATURE {
        return Err("the connection did not start with a PROXY protocol v2 header");
    }
    let version_command = fixed[12];
    if version_command >> 4 != 2 {
        return Err("unsupported PROXY protocol version");
    }
    match version_command & 0x0f {
        0 => return Ok(ProxyHeader::Local),
        1 => {}
        _ => return Err("unknown PROXY protocol command"),
    }
    let port = |bytes: &[u8]| u16::from_be_bytes([bytes[0], bytes[1]]);
    // Family and transport: TCP over IPv4 or IPv6. Anything else (UDP, UNIX sockets, UNSPEC)
    // carries no address we can use; the connection is then treated as the proxy's own.
    match fixed[13] {
        0x11 => {
            let bytes = payload.get(..12).ok_or("PROXY header too short for IPv4")?;
            let source = Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]);
            Ok(ProxyHeader::Proxied(SocketAddr::new(
                IpAddr::V4(source),
                port(&bytes[8..10]),
            )))
        }
        0x21 => {
            let bytes = payload.get(..36).ok_or("PROXY header too short for IPv6")?;
            let mut source = [0u8; 16];
            source.copy_from_slice(&bytes[..16]);
            Ok(ProxyHeader::Proxied(SocketAddr::new(
                IpAddr::V6(Ipv6Addr::from(source)),
                port(&bytes[32..34]),
            )))
        }
        _ => Ok(ProxyHeader::Local),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn trusted(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn networks_parse_and_match_with_mapped_addresses() {
        let proxies = trusted(&["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]);
        assert!(proxies.contains(ip("10.1.2.3")));
        assert!(proxies.contains(ip("::ffff:10.1.2.3")));
        assert!(proxies.contains(ip("192.0.2.7")));
        assert!(!proxies.contains(ip("192.0.2.8")));
        assert!(proxies.contains(ip("2001:db8:1::1")));
        assert!(!proxies.contains(ip("2001:db9::1")));
        assert!(trusted(&["0.0.0.0/0"]).contains(ip("203.0.113.1")));
        for bad in ["10.0.0.0/33", "example.org", "10.0.0/8"] {
            assert!(TrustedProxies::parse(&[bad.to_string()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn headers_count_only_from_a_trusted_peer_and_only_right_of_the_last_trusted_hop() {
        let proxies = trusted(&["10.0.0.0/8"]);
        let spoofed = headers(&[("x-forwarded-for", "198.51.100.1")]);
        // Off by default, and from an untrusted peer: the peer.
        assert_eq!(
            client_address(ip("203.0.113.9"), &spoofed, &TrustedProxies::default()),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(ip("203.0.113.9"), &spoofed, &proxies),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(ip("10.0.0.2"), &spoofed, &proxies),
            ip("198.51.100.1")
        );
        // The client wrote the left entry itself; our proxies appended the real one.
        let chain = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.0.0.3")]);
        assert_eq!(
            client_address(ip("10.0.0.2"), &chain, &proxies),
            ip("203.0.113.9")
        );
        // Forwarded wins over X-Forwarded-For, with ports and IPv6 in brackets.
        let forwarded = headers(&[
            (
                "forwarded",
                "for=1.2.3.4, for=\"[2001:db8:cafe::17]:4711\";proto=https",
            ),
            ("x-forwarded-for", "198.51.100.1"),
        ]);
        assert_eq!(
            client_address(ip("10.0.0.2"), &forwarded, &proxies),
            ip("2001:db8:cafe::17")
        );
        // An entry that is not an address stops the walk.
        let obfuscated = headers(&[("forwarded", "for=1.2.3.4, for=_hidden")]);
        assert_eq!(
            client_address(ip("10.0.0.2"), &obfuscated, &proxies),
            ip("10.0.0.2")
        );
        // No header: the proxy itself.
        assert_eq!(
            client_address(ip("10.0.0.2"), &HeaderMap::new(), &proxies),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn proxy_v2_headers_parse() {
        let mut fixed = [0u8; 16];
        fixed[..12].copy_from_slice(&SIGNATURE);
        fixed[12] = 0x21;
        fixed[13] = 0x11;
        let payload = [198, 51, 100, 7, 10, 0, 0, 1, 0x12, 0x34, 0x01, 0xbb];
        assert_eq!(
            parse_proxy_header(&fixed, &payload),
            Ok(ProxyHeader::Proxied("198.51.100.7:4660".parse().unwrap()))
        );
        fixed[13] = 0x21;
        let mut v6 = [0u8; 36];
        v6[..16].copy_from_slice(&"2001:db8::7".parse::<Ipv6Addr>().unwrap().octets());
        v6[32] = 0x01;
        assert_eq!(
            parse_proxy_header(&fixed, &v6),
            Ok(ProxyHeader::Proxied("[2001:db8::7]:256".parse().unwrap()))
        );
        assert!(parse_proxy_header(&fixed, &v6[..20]).is_err());
        let local: [u8; 16] = vestibule_provisioning::LOCAL_PROXY_HEADER;
        assert_eq!(parse_proxy_header(&local, &[]), Ok(ProxyHeader::Local));
        let mut http = [0u8; 16];
        http.copy_from_slice(b"GET / HTTP/1.1\r\n");
        assert!(parse_proxy_header(&http, &[]).is_err());
        let mut v1 = fixed;
        v1[12] = 0x11;
        assert!(parse_proxy_header(&v1, &payload).is_err());
    }

    /// A peer that claims a huge PROXY header is dropped after its 16 fixed bytes: nothing of
    /// the claimed length is read or buffered.
    #[tokio::test]
    async fn an_oversized_proxy_header_is_refused_before_it_is_read() {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut tcp = TcpStream::connect(address).await.unwrap();
            let mut fixed = SIGNATURE.to_vec();
            fixed.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
            tcp.write_all(&fixed).await.unwrap();
            tcp
        });
        let (mut tcp, peer) = listener.accept().await.unwrap();
        let trusted = TrustedProxies::parse(&["127.0.0.1".to_string()]).unwrap();
        let refused = accept_proxied(&mut tcp, peer, &trusted).await.unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::InvalidData);
        assert!(refused.to_string().contains("too long"), "{refused}");
        drop(client.await.unwrap());
    }
}
