//! `kind = "matrix"`: a homeserver base URL, a room id or alias, an access token.

use super::model::{MatrixConfig, NotifierKind};
use super::{Kind, Site};
use crate::config::locate::Problems;
use crate::config::raw::RawNotifier;

pub(super) const KIND: Kind = Kind {
    name: "matrix",
    options: &["url", "room", "token"],
    build,
};

fn build(
    n: &RawNotifier,
    site: &Site<'_>,
    problems: &mut Problems,
    warnings: &mut Problems,
) -> Option<NotifierKind> {
    let url = site.http_url(n.url.as_deref(), "url", "matrix", None, problems);
    let room = site.required(n.room.as_deref(), "room", "matrix", problems);
    // The send API takes a room id; an alias (`#news:server`) would need a lookup first.
    if let Some(r) = room
        && (!r.starts_with('!') || !r.contains(':'))
    {
        problems.value(
            site.key("room"),
            format!("`{r}` is not a Matrix room id; expected \"!id:server\" (Element: Room settings, Advanced)"),
        );
        return None;
    }
    site.required(n.token.as_ref(), "token", "matrix", problems);
    let token = site.secret("token", n.token.as_ref(), problems, warnings);
    Some(NotifierKind::Matrix(MatrixConfig {
        url: url?,
        room: room?.to_string(),
        token: token?,
    }))
}
