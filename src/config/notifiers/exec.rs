//! `kind = "exec"`: a program and its arguments, run without a shell, and a time limit.

use std::path::Path;
use std::time::Duration;

use super::model::{ExecConfig, NotifierKind};
use super::{Kind, Site};
use crate::config::locate::Problems;
use crate::config::raw::RawNotifier;
use crate::config::values::parse_duration;

pub(super) const KIND: Kind = Kind {
    name: "exec",
    options: &["command", "timeout"],
    build,
};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

fn build(
    n: &RawNotifier,
    site: &Site<'_>,
    problems: &mut Problems,
    _: &mut Problems,
) -> Option<NotifierKind> {
    let timeout = match n.timeout.as_deref().map(parse_duration) {
        None => DEFAULT_TIMEOUT,
        Some(Ok(d)) if !d.is_zero() => d,
        Some(Ok(_)) => {
            problems.value(site.key("timeout"), "`timeout` must be more than zero");
            return None;
        }
        Some(Err(e)) => {
            problems.value(site.key("timeout"), e);
            return None;
        }
    };
    let command = site.required(n.command.as_ref(), "command", "exec", problems)?;
    let Some(program) = command.first().filter(|p| !p.trim().is_empty()) else {
        problems.value(
            site.key("command"),
            "`command` needs the program first: [\"program\", \"arg\", ...] (no shell)",
        );
        return None;
    };
    // A program named by path must be there now; one found through $PATH is looked up when
    // it runs (the service may have another PATH than the shell running `check`).
    if program.contains('/') && !Path::new(program).is_file() {
        problems.value(
            p_index(site, 0),
            format!(
                "program `{program}` does not exist (an absolute path, or a name found on $PATH)"
            ),
        );
        return None;
    }
    Some(NotifierKind::Exec(ExecConfig {
        command: command.clone(),
        timeout,
    }))
}

fn p_index(site: &Site<'_>, i: usize) -> crate::config::locate::PathSegs {
    crate::config::locate::p(&[&"notifier", &site.index, &"command", &i])
}
