//! The network as the integration tests need it, from two variables read once, and only in
//! debug builds (a release daemon ignores them, so no environment can lift its guard):
//!
//! - `FEEDWATCH_TEST_RESOLVE="name=addr[|addr...],..."`: DNS answers for these names, in
//!   place of the system resolver's. They are judged like real answers.
//! - `FEEDWATCH_TEST_PUBLIC="addr,..."`: addresses counted as public. Every test server
//!   listens on loopback; a test lets one loopback address (say 127.0.0.2) play a public
//!   server while 127.0.0.1 stays the private network, so the check that refuses a hop runs
//!   on the address actually connected to, as in production.
//!
//! An environment variable rather than a hook in the library's API, because the tests drive
//! the real binary (config file, `poll`, its output) the way an operator does.

use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;

#[derive(Default)]
struct TestNet {
    names: Vec<(String, Vec<IpAddr>)>,
    public: Vec<IpAddr>,
}

fn net() -> &'static TestNet {
    static NET: OnceLock<TestNet> = OnceLock::new();
    NET.get_or_init(|| {
        if !cfg!(debug_assertions) {
            return TestNet::default();
        }
        let var = |name| std::env::var(name).unwrap_or_default();
        let net = TestNet {
            names: parse_names(&var("FEEDWATCH_TEST_RESOLVE")),
            public: parse_addrs(&var("FEEDWATCH_TEST_PUBLIC"), ','),
        };
        if !net.names.is_empty() || !net.public.is_empty() {
            tracing::warn!(
                "FEEDWATCH_TEST_RESOLVE or FEEDWATCH_TEST_PUBLIC is set: test network in use"
            );
        }
        net
    })
}

fn parse_addrs(s: &str, sep: char) -> Vec<IpAddr> {
    s.split(sep).filter_map(|a| a.trim().parse().ok()).collect()
}

fn parse_names(s: &str) -> Vec<(String, Vec<IpAddr>)> {
    s.split(',')
        .filter_map(|entry| entry.split_once('='))
        .map(|(name, addrs)| (name.trim().to_ascii_lowercase(), parse_addrs(addrs, '|')))
        .collect()
}

/// The test's answers for `name`, if the test named it.
pub(super) fn resolve(name: &str) -> Option<Vec<SocketAddr>> {
    let name = name.to_ascii_lowercase();
    net()
        .names
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, addrs)| addrs.iter().map(|ip| SocketAddr::new(*ip, 0)).collect())
}

/// Whether the test counts `ip` as a public address.
pub(super) fn counts_as_public(ip: IpAddr) -> bool {
    let public = &net().public;
    !public.is_empty() && public.contains(&ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_read_leniently() {
        let names = parse_names(" Feeds.Test=127.0.0.2 , two.test=127.0.0.1|::1,junk");
        assert_eq!(
            names,
            vec![
                ("feeds.test".to_string(), vec![IpAddr::from([127, 0, 0, 2])]),
                (
                    "two.test".to_string(),
                    vec![
                        IpAddr::from([127, 0, 0, 1]),
                        IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
                    ]
                ),
            ]
        );
        assert!(parse_addrs("", ',').is_empty());
    }
}
