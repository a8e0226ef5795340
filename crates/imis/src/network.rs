//! The one guard every outbound call a tenant admin can point goes through: calls to the
//! tenant's iMIS, and documents fetched by address (a service provider's SAML metadata,
//! `fetch_document`). The address is the tenant admin's to choose, so without it Settings would be a way to make Vestibule call anything it
//! can reach: its own loopback services, the cloud's metadata address, the private network it
//! runs in. In production ([`Network::PublicOnly`]):
//!
//! - HTTPS only; no user information (`user@host`) and no fragment in the address;
//! - the host is resolved here and only public addresses are kept; the connection goes to
//!   exactly the addresses checked (no second lookup, so no DNS-rebinding window);
//! - an address written as an IP literal must be public too;
//! - redirects are never followed, answers are bounded in size and time (the client).
//!
//! [`Network::Development`] (the `members.imis_private_network` setting, for the emulator on
//! this machine) lifts the address and scheme rules, nothing else.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;

/// Where calls to iMIS may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// Public addresses over HTTPS: production.
    PublicOnly,
    /// Any address, plain HTTP allowed: development and tests (the iMIS emulator).
    Development,
}

/// Whether `ip` is an address on the public internet: not loopback, private, link-local (the
/// cloud metadata service lives there), shared (CGNAT), multicast, documentation or reserved.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let segments = v6.segments();
            // NAT64 (64:ff9b::/96) reaches IPv4: judge the embedded address.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = segments[6].to_be_bytes();
                let [c, d] = segments[7].to_be_bytes();
                return is_public_v4(Ipv4Addr::new(a, b, c, d));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (segments[0] & 0xfe00) == 0xfc00 // unique local, fc00::/7
                || (segments[0] & 0xffc0) == 0xfe80 // link-local, fe80::/10
                || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
                || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1))
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

/// hyper's resolver for [`Network::PublicOnly`]: resolves with the system resolver and keeps
/// only public addresses; a name with none is refused as if it did not resolve.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PublicAddresses;

impl tower_service::Service<Name> for PublicAddresses {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, io::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        Box::pin(async move {
            let public: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|address| is_public(address.ip()))
                .collect();
            if public.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "{} resolves only to private, loopback or link-local addresses, which \
                         Vestibule does not call",
                        name.as_str()
                    ),
                ));
            }
            Ok(public.into_iter())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
