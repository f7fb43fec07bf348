//! `kind = "slack"`: a Slack incoming-webhook URL (it carries the token: never shown).

use super::model::NotifierKind;
use super::{Kind, Site};
use crate::config::locate::Problems;
use crate::config::raw::RawNotifier;

pub(super) const KIND: Kind = Kind {
    name: "slack",
    options: &["url"],
    build,
};

fn build(
    n: &RawNotifier,
    site: &Site<'_>,
    problems: &mut Problems,
    _: &mut Problems,
) -> Option<NotifierKind> {
    site.http_url(n.url.as_deref(), "url", "slack", None, problems)
        .map(|url| NotifierKind::Slack { url })
}
