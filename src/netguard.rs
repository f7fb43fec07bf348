//! Where a fetch may connect: the public internet always, private networks only where the
//! operator pointed feedwatch (`[daemon] allow_private_networks` lifts the rule). Pure: the
//! fetcher does the DNS and the sockets and asks these functions.
//!
//! The decisions:
//! - [`classify`]: an IP address is public, or it lies in one non-public [`Space`]. Addresses
//!   that carry an IPv4 address inside an IPv6 one (mapped, NAT64, 6to4) are judged by the
//!   IPv4 address they lead to.
//! - [`Reach::written`]: a URL as the operator wrote it. A literal non-public address or a
//!   `localhost` name may reach private space; a host *name* may not, whatever it resolves
//!   to: its DNS answers are judged like a redirect's, or DNS rebinding would pass.
//! - [`Reach::after_connect`]: once a chain has connected to a public address, it may not go
//!   back into private space (a redirect from a public server to `127.0.0.1` is refused even
//!   when the feed itself was on `localhost`).
//! - [`check_host`]: before a request, a literal address or `localhost` name in a URL (these
//!   never reach the resolver).
//! - [`filter_answers`]: which DNS answers a public-only request may connect to.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

/// A non-public part of the address space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    /// 127.0.0.0/8, ::1, and the name `localhost`.
    Loopback,
    /// RFC 1918 (10/8, 172.16/12, 192.168/16), deprecated IPv6 site-local, local-use NAT64.
    Private,
    /// 169.254/16, fe80::/10.
    LinkLocal,
    /// 100.64/10, carrier-grade NAT.
    SharedCgnat,
    /// fc00::/7.
    UniqueLocal,
    /// Cloud instance metadata: 169.254.169.254, fd00:ec2::254.
    Metadata,
    /// 0.0.0.0/8 and `::`: on Linux a connection there reaches the host itself.
    Unspecified,
    /// 224/4, ff00::/8.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// Not routed on the internet: 240/4, protocol assignments, documentation, benchmarking,
    /// discard, Teredo, IPv4-compatible and unassigned IPv6.
    Reserved,
}

impl Space {
    fn describe(self) -> &'static str {
        match self {
            Space::Loopback => "loopback",
            Space::Private => "private network",
            Space::LinkLocal => "link-local",
            Space::SharedCgnat => "carrier-grade NAT",
            Space::UniqueLocal => "unique-local",
            Space::Metadata => "cloud metadata service",
            Space::Unspecified => "unspecified, reaches this host",
            Space::Multicast => "multicast",
            Space::Broadcast => "broadcast",
            Space::Reserved => "reserved, not routed on the internet",
        }
    }
}

/// Where `ip` lies: `None` when it is a public address.
pub fn classify(ip: IpAddr) -> Option<Space> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Space> {
    let [a, b, c, _] = ip.octets();
    let space = match (a, b, c) {
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) => Space::Metadata,
        _ if ip == Ipv4Addr::BROADCAST => Space::Broadcast,
        (0, ..) => Space::Unspecified,
        (10, ..) | (192, 168, _) => Space::Private,
        (172, 16..=31, _) => Space::Private,
        (100, 64..=127, _) => Space::SharedCgnat,
        (127, ..) => Space::Loopback,
        (169, 254, _) => Space::LinkLocal,
        // IETF protocol assignments, the three documentation nets, benchmarking.
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) | (198, 18..=19, _) => {
            Space::Reserved
        }
        (224..=239, ..) => Space::Multicast,
        (240..=255, ..) => Space::Reserved,
        _ => return None,
    };
    Some(space)
}

fn classify_v6(ip: Ipv6Addr) -> Option<Space> {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    let space = match s {
        [0, 0, 0, 0, 0, 0, 0, 0] => Space::Unspecified,
        [0, 0, 0, 0, 0, 0, 0, 1] => Space::Loopback,
        // IPv4-mapped: the socket connects to the IPv4 address.
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => return classify_v4(embedded(hi, lo)),
        // NAT64 (well-known prefix): a gateway connects to the IPv4 address.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => return classify_v4(embedded(hi, lo)),
        // Local-use NAT64 leads into the operator's own network.
        [0x64, 0xff9b, 1, ..] => Space::Private,
        // 6to4: a relay connects to the IPv4 address in bits 16..48.
        [0x2002, hi, lo, ..] => return classify_v4(embedded(hi, lo)),
        [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254] => Space::Metadata,
        // IPv4-compatible (deprecated), discard-only, Teredo, documentation.
        [0, 0, 0, 0, 0, 0, _, _] | [0x100, 0, 0, 0, ..] | [0x2001, 0, ..] | [0x2001, 0xdb8, ..] => {
            Space::Reserved
        }
        // Documentation (RFC 9637), 3fff::/20.
        [0x3fff, y, ..] if y & 0xf000 == 0 => Space::Reserved,
        [x, ..] if x & 0xfe00 == 0xfc00 => Space::UniqueLocal,
        [x, ..] if x & 0xffc0 == 0xfe80 => Space::LinkLocal,
        [x, ..] if x & 0xffc0 == 0xfec0 => Space::Private,
        [x, ..] if x & 0xff00 == 0xff00 => Space::Multicast,
        // Only 2000::/3 is assigned as global unicast.
        [x, ..] if x & 0xe000 != 0x2000 => Space::Reserved,
        _ => return None,
    };
    Some(space)
}

/// Where the requests of one fetch may connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Public addresses only: literal non-public hosts and non-public DNS answers are refused.
    PublicOnly,
    /// Anywhere: the chain started where the operator pointed into private space and has not
    /// connected to a public address since.
    Anywhere,
}

impl Reach {
    /// The reach of a URL the operator wrote (a feed's configured URL): `Anywhere` when its
    /// host is a literal non-public address or a `localhost` name, else `PublicOnly`.
    pub fn written(url: &Url) -> Reach {
        match url.host() {
            Some(host) if target(&host).is_some() => Reach::Anywhere,
            _ => Reach::PublicOnly,
        }
    }

    /// The reach left after connecting to `ip` (`judge` is [`classify`] outside tests): a
    /// public address ends private access for the rest of the chain.
    pub fn after_connect(self, ip: IpAddr, judge: impl Fn(IpAddr) -> Option<Space>) -> Reach {
        match (self, judge(ip)) {
            (Reach::Anywhere, Some(_)) => Reach::Anywhere,
            _ => Reach::PublicOnly,
        }
    }
}

/// Why a request was refused: it would have connected into private space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub via: Via,
    /// The address (or `localhost` name) refused.
    pub target: String,
    pub space: Space,
}

/// How the refused address was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// The URL fetched first (an autodiscovery link, say) names it.
    Start,
    /// A redirect leads there.
    Redirect,
    /// DNS answered it for this name.
    Dns(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subject = match &self.via {
            Via::Start => "the address is".to_string(),
            Via::Redirect => "the redirect leads to".to_string(),
            Via::Dns(name) => format!("`{name}` resolves to"),
        };
        write!(
            f,
            "refused: {subject} {}, a private address ({}); set `[daemon] allow_private_networks = true` to allow it",
            self.target,
            self.space.describe()
        )
    }
}

impl std::error::Error for Refusal {}

/// The literal address or `localhost` name of `host` and its space, when it is not public.
/// Other names are for DNS to answer.
fn target(host: &Host<&str>) -> Option<(String, Space)> {
    match host {
        Host::Ipv4(ip) => classify_v4(*ip).map(|s| (ip.to_string(), s)),
        Host::Ipv6(ip) => classify_v6(*ip).map(|s| (ip.to_string(), s)),
        Host::Domain(name) => {
            // RFC 6761: `localhost` and every name under it are loopback, whatever DNS says.
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            (name == "localhost" || name.ends_with(".localhost"))
                .then(|| (name.clone(), Space::Loopback))
        }
    }
}

/// Before a request under `reach`: refuse a URL whose host is a literal non-public address or
/// a `localhost` name (`judge` decides literal addresses; [`classify`] outside tests).
pub fn check_host(
    url: &Url,
    reach: Reach,
    via: Via,
    judge: impl Fn(IpAddr) -> Option<Space>,
) -> Result<(), Refusal> {
    if reach == Reach::Anywhere {
        return Ok(());
    }
    let found = match url.host() {
        Some(Host::Ipv4(ip)) => judge(IpAddr::V4(ip)).map(|s| (ip.to_string(), s)),
        Some(Host::Ipv6(ip)) => judge(IpAddr::V6(ip)).map(|s| (ip.to_string(), s)),
        Some(host @ Host::Domain(_)) => target(&host),
        None => None,
    };
    match found {
        Some((target, space)) => Err(Refusal { via, target, space }),
        None => Ok(()),
    }
}

/// The answers a public-only request for `name` may connect to: the public ones. When DNS
/// answered only non-public addresses, the first is refused.
pub fn filter_answers(
    name: &str,
    answers: Vec<SocketAddr>,
    judge: impl Fn(IpAddr) -> Option<Space>,
) -> Result<Vec<SocketAddr>, Refusal> {
    let mut refused = None;
    let public: Vec<SocketAddr> = answers
        .into_iter()
        .filter(|a| match judge(a.ip()) {
            None => true,
            Some(space) => {
                refused.get_or_insert((a.ip(), space));
                false
            }
        })
        .collect();
    match refused {
        Some((ip, space)) if public.is_empty() => Err(Refusal {
            via: Via::Dns(name.to_string()),
            target: ip.to_string(),
            space,
        }),
        _ => Ok(public),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn space(s: &str) -> Option<Space> {
        classify(ip(s))
    }

    fn url(s: &str) -> Url {
        Url::parse(s).expect("test url")
    }

    /// The space of a URL's host after the `url` crate normalised it.
    fn url_space(s: &str) -> Option<Space> {
        check_host(&url(s), Reach::PublicOnly, Via::Redirect, classify)
            .err()
            .map(|r| r.space)
    }

    #[test]
    fn public_addresses_are_public() {
        for a in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.88.99.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4007:80f::200e",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "3fff:1000::1",
        ] {
            assert_eq!(space(a), None, "{a}");
        }
    }

    #[test]
    fn ipv4_ranges() {
        use Space::*;
        for (a, want) in [
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("10.0.0.1", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("169.254.0.1", LinkLocal),
            ("169.254.169.254", Metadata),
            ("100.64.0.1", SharedCgnat),
            ("100.127.255.255", SharedCgnat),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("240.0.0.1", Reserved),
            ("255.255.255.254", Reserved),
            ("255.255.255.255", Broadcast),
            ("192.0.0.8", Reserved),
            ("192.0.2.1", Reserved),
            ("198.51.100.7", Reserved),
            ("203.0.113.9", Reserved),
            ("198.18.0.1", Reserved),
        ] {
            assert_eq!(space(a), Some(want), "{a}");
        }
    }

    #[test]
    fn ipv6_ranges_and_ipv4_inside_ipv6() {
        use Space::*;
        for (a, want) in [
            ("::", Unspecified),
            ("::1", Loopback),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:10.1.2.3", Private),
            ("::ffff:169.254.169.254", Metadata),
            ("::ffff:0.0.0.0", Unspecified),
            ("64:ff9b::7f00:1", Loopback),
            ("64:ff9b::a9fe:a9fe", Metadata),
            ("64:ff9b:1::a00:1", Private),
            ("2002:7f00:1::", Loopback),
            ("2002:c0a8:101::1", Private),
            ("::127.0.0.1", Reserved),
            ("fd00:ec2::254", Metadata),
            ("fc00::1", UniqueLocal),
            ("fdff:ffff::1", UniqueLocal),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("fec0::1", Private),
            ("ff02::1", Multicast),
            ("100::1", Reserved),
            ("2001::1", Reserved),
            ("2001:db8::1", Reserved),
            ("3fff::1", Reserved),
            ("4000::1", Reserved),
            ("::2", Reserved),
        ] {
            assert_eq!(space(a), Some(want), "{a}");
        }
    }

    #[test]
    fn literal_hosts_are_judged_as_the_url_crate_normalises_them() {
        use Space::*;
        for (u, want) in [
            ("http://127.0.0.1:8080/admin", Some(Loopback)),
            // Decimal, hex, octal and short forms all become 127.0.0.1.
            ("http://2130706433/", Some(Loopback)),
            ("http://0x7f000001/", Some(Loopback)),
            ("http://0x7f.0.0.1/", Some(Loopback)),
            ("http://017700000001/", Some(Loopback)),
            ("http://0177.0.0.01/", Some(Loopback)),
            ("http://127.1/", Some(Loopback)),
            ("http://0/", Some(Unspecified)),
            ("http://0.0.0.0:9000/", Some(Unspecified)),
            ("http://[::]/", Some(Unspecified)),
            ("http://[::1]:8080/", Some(Loopback)),
            ("http://[::ffff:127.0.0.1]/", Some(Loopback)),
            ("http://[::ffff:7f00:1]/", Some(Loopback)),
            ("http://169.254.169.254/latest/meta-data/", Some(Metadata)),
            ("http://[fd00:ec2::254]/", Some(Metadata)),
            ("http://0xa9fea9fe/", Some(Metadata)),
            ("http://100.100.100.200/", Some(SharedCgnat)),
            ("http://LOCALHOST:3000/", Some(Loopback)),
            ("http://localhost./", Some(Loopback)),
            ("http://admin.localhost/", Some(Loopback)),
            ("https://example.org/feed", None),
            ("https://localhost.example.org/feed", None),
            ("https://93.184.215.14/feed", None),
        ] {
            assert_eq!(url_space(u), want, "{u}");
        }
    }

    #[test]
    fn what_the_operator_wrote_decides_the_start() {
        assert_eq!(
            Reach::written(&url("http://127.0.0.1:8080/feed")),
            Reach::Anywhere
        );
        assert_eq!(
            Reach::written(&url("http://localhost/feed")),
            Reach::Anywhere
        );
        assert_eq!(
            Reach::written(&url("http://[fd12::3]/feed")),
            Reach::Anywhere
        );
        // A name is judged by its DNS answers, not by what it looks like.
        assert_eq!(
            Reach::written(&url("http://intranet.corp/feed")),
            Reach::PublicOnly
        );
        assert_eq!(
            Reach::written(&url("https://8.8.8.8/feed")),
            Reach::PublicOnly
        );
    }

    #[test]
    fn a_public_connection_ends_private_access() {
        let private = ip("10.0.0.2");
        let public = ip("93.184.215.14");
        assert_eq!(
            Reach::Anywhere.after_connect(private, classify),
            Reach::Anywhere
        );
        assert_eq!(
            Reach::Anywhere.after_connect(public, classify),
            Reach::PublicOnly
        );
        // Nothing restores it.
        assert_eq!(
            Reach::PublicOnly.after_connect(private, classify),
            Reach::PublicOnly
        );
    }

    #[test]
    fn anywhere_passes_every_host_and_public_only_names_pass_to_dns() {
        let admin = url("http://127.0.0.1:8080/admin");
        assert_eq!(
            check_host(&admin, Reach::Anywhere, Via::Redirect, classify),
            Ok(())
        );
        assert_eq!(
            check_host(
                &url("http://intranet.corp/"),
                Reach::PublicOnly,
                Via::Redirect,
                classify
            ),
            Ok(())
        );
    }

    #[test]
    fn refusals_say_what_and_how_to_allow_it() {
        let r = check_host(
            &url("http://127.0.0.1:8080/admin"),
            Reach::PublicOnly,
            Via::Redirect,
            classify,
        )
        .expect_err("refused");
        assert_eq!(
            r.to_string(),
            "refused: the redirect leads to 127.0.0.1, a private address (loopback); \
             set `[daemon] allow_private_networks = true` to allow it"
        );
        let r = filter_answers(
            "feeds.example",
            vec!["169.254.169.254:80".parse().expect("addr")],
            classify,
        )
        .expect_err("refused");
        assert!(
            r.to_string()
                .starts_with("refused: `feeds.example` resolves to 169.254.169.254, a private address (cloud metadata service)"),
            "{r}"
        );
    }

    #[test]
    fn dns_answers_keep_only_public_addresses() {
        let a = |s: &str| -> SocketAddr { s.parse().expect("addr") };
        let mixed = vec![a("127.0.0.1:0"), a("93.184.215.14:0"), a("[::1]:0")];
        assert_eq!(
            filter_answers("x.example", mixed, classify),
            Ok(vec![a("93.184.215.14:0")])
        );
        let private = vec![a("10.0.0.1:0"), a("[fd00::1]:0")];
        let refused = filter_answers("x.example", private, classify).expect_err("refused");
        assert_eq!(refused.target, "10.0.0.1");
        assert_eq!(refused.via, Via::Dns("x.example".into()));
        assert_eq!(filter_answers("x.example", vec![], classify), Ok(vec![]));
    }

    #[test]
    fn the_judge_decides_literals_and_answers() {
        // What the integration tests rely on: a judge that counts one loopback address as
        // public lets exactly that one through.
        let judge = |ip: IpAddr| (ip != IpAddr::from([127, 0, 0, 2])).then_some(Space::Loopback);
        let u = url("http://127.0.0.2:8080/");
        assert_eq!(check_host(&u, Reach::PublicOnly, Via::Start, judge), Ok(()));
        let u = url("http://127.0.0.1:8080/");
        assert!(check_host(&u, Reach::PublicOnly, Via::Start, judge).is_err());
    }
}
