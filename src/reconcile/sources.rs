//! Where `url` sources may be fetched from (issue 26, "no reading by proxy"): a tenant chooses
//! the URL, the operator's pod makes the request, so without a policy a model could read the
//! cloud's metadata endpoint or a service on the pod's loopback, and a redirect could take an
//! innocent-looking URL there.
//!
//! The policy: `https` only, unless `run --allow-http-sources`; redirects only to the same host
//! (and scheme allowed), at most 5; no loopback, link-local (which holds the cloud metadata
//! endpoint 169.254.169.254), unspecified or known metadata address, unless
//! `run --source-allowed-networks` names a network holding it. Addresses are checked where the
//! connection is made (the HTTP client's resolver), so a name that resolves to a refused address
//! is refused too, whatever the URL says.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use url::Url;

/// Most redirects a `url` source may take.
pub const MAX_REDIRECTS: usize = 5;

/// A network in CIDR notation (`10.0.0.0/8`, `fd00::/8`), or one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl FromStr for Network {
    type Err = String;

    /// Parses `ADDR` or `ADDR/PREFIX`; errors name the text and what is wrong with it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Network { addr, prefix })
    }
}

impl Network {
    /// Whether `ip` lies in the network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The policy for `url` sources (from `run`'s flags).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourcePolicy {
    /// Plain `http` URLs are fetched too (`--allow-http-sources`).
    pub allow_http: bool,
    /// Networks fetched from even when their addresses are refused by default
    /// (`--source-allowed-networks`).
    pub allowed_networks: Vec<Network>,
}

/// Cloud metadata endpoints outside the link-local range (AWS's IPv6 one, Alibaba Cloud's).
const METADATA: &[IpAddr] = &[
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254)),
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
];

impl SourcePolicy {
    /// Why the operator does not fetch from `ip`, or `None` when it does.
    pub fn refuses(&self, ip: IpAddr) -> Option<&'static str> {
        let ip = ip.to_canonical();
        if self.allowed_networks.iter().any(|n| n.contains(ip)) {
            return None;
        }
        let link_local = match ip {
            IpAddr::V4(v4) => v4.is_link_local(),
            IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
        };
        if ip.is_loopback() {
            Some("a loopback address")
        } else if link_local {
            Some("a link-local address (where the cloud metadata endpoint is)")
        } else if ip.is_unspecified() {
            Some("the unspecified address")
        } else if METADATA.contains(&ip) {
            Some("a cloud metadata address")
        } else {
            None
        }
    }

    /// Why the operator does not fetch `url` as written (scheme, or a host that is a refused IP
    /// address), or `None`. Names resolve later, in the client ([`Self::http_client`]).
    pub fn refuses_url(&self, url: &Url) -> Option<String> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => {
                return Some(
                    "plain http is not allowed (the operator accepts https; its administrator can allow http with --allow-http-sources)".into(),
                );
            }
            other => return Some(format!("the scheme {other:?} is not allowed")),
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(_)) => return None,
            None => return Some("the URL has no host".into()),
        };
        self.refuses(ip).map(|why| {
            format!(
                "{ip} is {why}, which the operator does not fetch from unless its administrator allows the network (--source-allowed-networks)"
            )
        })
    }

    /// The HTTP client for `url` sources: redirects only to the same host (at most
    /// [`MAX_REDIRECTS`], never to a scheme the policy refuses), and a resolver that drops the
    /// addresses the policy refuses.
    pub fn http_client(&self) -> reqwest::Result<reqwest::Client> {
        let policy = Arc::new(self.clone());
        let for_redirects = policy.clone();
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            let first = attempt.previous().first().cloned();
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            let same_host = first
                .as_ref()
                .is_some_and(|f| f.host_str() == attempt.url().host_str());
            if !same_host {
                return attempt
                    .error("a redirect to another host (only the same host is followed)");
            }
            if let Some(why) = for_redirects.refuses_url(attempt.url()) {
                return attempt.error(format!("a redirect: {why}"));
            }
            attempt.follow()
        });
        reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .redirect(redirects)
            .dns_resolver(Arc::new(Checked { policy }))
            .build()
    }
}

/// The system resolver, with the addresses the policy refuses left out.
struct Checked {
    policy: Arc<SourcePolicy>,
}

impl reqwest::dns::Resolve for Checked {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match policy.refuses(a.ip()) {
                    Some(why) => {
                        refused = Some(why);
                        false
                    }
                    None => true,
                })
                .collect();
            match (allowed.is_empty(), refused) {
                (true, Some(why)) => Err(format!(
                    "{host} resolves to {why}, which the operator does not fetch from unless its administrator allows the network (--source-allowed-networks)"
                )
                .into()),
                _ => Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn networks_parse_and_contain() {
        let n: Network = "10.1.0.0/16".parse().expect("v4");
        assert!(n.contains(ip("10.1.2.3")) && !n.contains(ip("10.2.0.1")));
        assert!(n.contains(ip("::ffff:10.1.0.9")), "IPv4-mapped");
        let one: Network = "127.0.0.1".parse().expect("one address");
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let all: Network = "0.0.0.0/0".parse().expect("all");
        assert!(all.contains(ip("8.8.8.8")) && !all.contains(ip("::1")));
        let v6: Network = "fd00::/8".parse().expect("v6");
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!("10.0.0.0/33".parse::<Network>().is_err());
        assert!("example.com".parse::<Network>().is_err());
    }

    #[test]
    fn loopback_link_local_and_metadata_are_refused_unless_allowed() {
        let strict = SourcePolicy::default();
        for refused in [
            "127.0.0.1",
            "127.9.9.9",
            "::1",
            "169.254.169.254",
            "fe80::1",
            "0.0.0.0",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "fd00:ec2::254",
            "100.100.100.200",
        ] {
            assert!(strict.refuses(ip(refused)).is_some(), "{refused}");
        }
        for fine in ["10.0.0.1", "192.168.1.1", "8.8.8.8", "2001:db8::1"] {
            assert_eq!(strict.refuses(ip(fine)), None, "{fine}");
        }
        let allowed = SourcePolicy {
            allowed_networks: vec!["127.0.0.0/8".parse().expect("net")],
            ..Default::default()
        };
        assert_eq!(allowed.refuses(ip("127.0.0.1")), None);
        assert!(allowed.refuses(ip("169.254.169.254")).is_some());
    }

    #[test]
    fn urls_need_https_and_an_allowed_literal_address() {
        let strict = SourcePolicy::default();
        let url = |s: &str| Url::parse(s).expect("url");
        assert_eq!(strict.refuses_url(&url("https://example.com/c.txt")), None);
        let http = strict
            .refuses_url(&url("http://example.com/c.txt"))
            .expect("http");
        assert!(http.contains("--allow-http-sources"), "{http}");
        let meta = strict
            .refuses_url(&url("https://169.254.169.254/latest/meta-data/"))
            .expect("metadata");
        assert!(meta.contains("link-local"), "{meta}");
        assert!(strict.refuses_url(&url("https://[::1]:8443/x")).is_some());
        assert!(strict.refuses_url(&url("ftp://example.com/x")).is_some());
        let lax = SourcePolicy {
            allow_http: true,
            allowed_networks: vec!["127.0.0.1".parse().expect("net")],
        };
        assert_eq!(lax.refuses_url(&url("http://127.0.0.1:9/x")), None);
    }

    /// A server on loopback answering `/hop` with a redirect to `target`, and anything else with
    /// `fetched`.
    async fn redirecting(target: String) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let target = target.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    let request = String::from_utf8_lossy(&buf[..n]);
                    let answer = if request.starts_with("GET /hop ") {
                        format!(
                            "HTTP/1.1 302 Found\r\nlocation: {target}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        )
                    } else {
                        "HTTP/1.1 200 OK\r\ncontent-length: 7\r\nconnection: close\r\n\r\nfetched"
                            .to_string()
                    };
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        base
    }

    #[tokio::test]
    async fn redirects_stay_on_the_same_host_and_names_resolve_to_allowed_addresses() {
        let lax = SourcePolicy {
            allow_http: true,
            allowed_networks: vec!["127.0.0.1".parse().expect("net")],
        };
        let client = lax.http_client().expect("client");
        // The same host: followed.
        let base = redirecting("/content".into()).await;
        let body = client
            .get(format!("{base}/hop"))
            .send()
            .await
            .expect("followed")
            .text()
            .await
            .expect("body");
        assert_eq!(body, "fetched");
        // Another host (localhost is another name for the same address: still refused).
        let port = base.rsplit(':').next().expect("port").to_string();
        let base = redirecting(format!("http://localhost:{port}/content")).await;
        let err = client
            .get(format!("{base}/hop"))
            .send()
            .await
            .expect_err("another host");
        assert!(err.is_redirect(), "{err}");
        // A name that resolves to a refused address is refused by the resolver.
        let strict = SourcePolicy {
            allow_http: true,
            ..Default::default()
        };
        let err = strict
            .http_client()
            .expect("client")
            .get(format!("http://localhost:{port}/content"))
            .send()
            .await
            .expect_err("loopback by name");
        let text = crate::reconcile::inputs::fetch_detail(err);
        assert!(text.contains("loopback"), "{text}");
    }
}
