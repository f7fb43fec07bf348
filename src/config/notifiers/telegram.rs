//! `kind = "telegram"`: a bot token, a chat id (a number, or `@channel`), the Bot API base.

use super::model::{NotifierKind, TelegramConfig};
use super::{Kind, Site};
use crate::config::locate::Problems;
use crate::config::raw::RawNotifier;

pub(super) const KIND: Kind = Kind {
    name: "telegram",
    options: &["token", "chat_id", "url"],
    build,
};

const API: &str = "https://api.telegram.org";

fn build(
    n: &RawNotifier,
    site: &Site<'_>,
    problems: &mut Problems,
    warnings: &mut Problems,
) -> Option<NotifierKind> {
    let url = site.http_url(n.url.as_deref(), "url", "telegram", Some(API), problems);
    site.required(n.token.as_ref(), "token", "telegram", problems);
    let token = site.secret("token", n.token.as_ref(), problems, warnings);
    let chat_id = match site.required(n.chat_id.as_ref(), "chat_id", "telegram", problems)? {
        toml::Value::Integer(i) => serde_json::Value::from(*i),
        toml::Value::String(s) if s.starts_with('@') || s.parse::<i64>().is_ok() => {
            serde_json::Value::from(s.clone())
        }
        _ => {
            problems.value(
                site.key("chat_id"),
                "`chat_id` must be a number (a user, group or channel id) or \"@channelname\"",
            );
            return None;
        }
    };
    Some(NotifierKind::Telegram(TelegramConfig {
        url: url?,
        token: token?,
        chat_id,
    }))
}
