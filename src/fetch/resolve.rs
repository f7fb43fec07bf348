//! The resolver reqwest connects through: the system's answers (or a test's, see
//! [`testnet`](super::testnet)), and for a public-only client only the public ones, so the
//! address a socket actually connects to is the one that was judged and a DNS answer that
//! changes between polls (rebinding) is judged again. Literal addresses never come here; the
//! fetcher checks those before the request.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

use super::testnet;
use crate::netguard::{self, Space};

/// [`netguard::classify`], but with the addresses a test counts as public.
pub(super) fn judge(ip: IpAddr) -> Option<Space> {
    if testnet::counts_as_public(ip) {
        None
    } else {
        netguard::classify(ip)
    }
}

pub(super) struct Guarded {
    /// Drop non-public answers (the public-only client).
    filter: bool,
    /// Proxy hosts from the environment: the operator chose them, so their answers pass.
    exempt: Arc<[String]>,
}

impl Guarded {
    pub(super) fn new(filter: bool, exempt: Arc<[String]>) -> Self {
        Self { filter, exempt }
    }
}

impl Resolve for Guarded {
    fn resolve(&self, name: Name) -> Resolving {
        let name = name.as_str().to_ascii_lowercase();
        let filter = self.filter && !self.exempt.contains(&name);
        Box::pin(async move {
            let answers: Vec<SocketAddr> = match testnet::resolve(&name) {
                Some(answers) => answers,
                None => tokio::net::lookup_host((name.as_str(), 0)).await?.collect(),
            };
            let answers = if filter {
                netguard::filter_answers(&name, answers, judge)?
            } else {
                answers
            };
            Ok(Box::new(answers.into_iter()) as Addrs)
        })
    }
}

/// The hosts of the proxies reqwest takes from the environment (`HTTP_PROXY`, `HTTPS_PROXY`,
/// `ALL_PROXY`, either case). With a proxy the target's address is the proxy's to resolve:
/// only literal addresses and `localhost` names are refused then.
pub(super) fn proxy_hosts() -> Arc<[String]> {
    let vars = [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ];
    let hosts: Vec<String> = vars
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .filter_map(|v| proxy_host(&v))
        .collect();
    hosts.into()
}

fn proxy_host(value: &str) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let url = if value.contains("://") {
        Url::parse(value)
    } else {
        Url::parse(&format!("http://{value}"))
    };
    url.ok()?.host_str().map(str::to_ascii_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_hosts_are_read_as_reqwest_reads_them() {
        assert_eq!(
            proxy_host("http://Proxy.Corp:3128").as_deref(),
            Some("proxy.corp")
        );
        assert_eq!(proxy_host("proxy.corp:3128").as_deref(), Some("proxy.corp"));
        assert_eq!(
            proxy_host("socks5h://user:pw@gw.lan:1080").as_deref(),
            Some("gw.lan")
        );
        assert_eq!(proxy_host("  "), None);
    }
}
