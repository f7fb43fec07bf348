//! `feedwatch opml import FILE [--write]` and `opml export`: reading and writing the files,
//! the report and the config edit; what an OPML file adds is decided in `feedwatch::opml`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use feedwatch::config::{self, Config, Secrets};
use feedwatch::opml::{self, Import, Skip};

use super::Failure;
use super::out::raw_line;
use super::progress::Progress;

pub fn import(config_path: &Path, file: &Path, write: bool) -> Result<ExitCode, Failure> {
    let xml = read_opml(file)?;
    let doc = opml::parse(&xml)
        .map_err(|e| Failure::Runtime(anyhow::anyhow!("{}: {e}", file.display())))?;
    // A config that does not exist yet is an empty one (--write creates it).
    let (source, cfg) = if config_path.exists() {
        let source = std::fs::read_to_string(config_path)
            .with_context(|| format!("reading {}", config_path.display()))?;
        let cfg = config::parse(config_path, &source, Secrets::Skip)
            .map_err(|e| Failure::Usage(e.to_string()))?;
        (source, Some(cfg))
    } else {
        (String::new(), None)
    };
    let bar = Progress::bar(opml::count_outlines(&doc), "reading outlines");
    let existing = cfg
        .iter()
        .flat_map(|c| c.feeds.iter().map(|f| (f.name.as_str(), &f.url)));
    let plan = opml::plan(&doc, existing, |label| bar.step(label));
    bar.done();
    report(file, &plan);
    if plan.feeds.is_empty() {
        note!("nothing to add to {}", config_path.display());
        return Ok(ExitCode::SUCCESS);
    }
    if !write {
        for line in opml::to_toml(&plan.feeds).lines() {
            raw_line(line);
        }
        note!(
            "{} feed(s) to add: paste the above into {}, or run again with --write to append them",
            plan.feeds.len(),
            config_path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let updated = if cfg.is_some() {
        opml::append(&source, &plan.feeds).map_err(Failure::Usage)?
    } else {
        opml::to_toml(&plan.feeds)
    };
    // Never leave a config the daemon would refuse.
    config::parse(config_path, &updated, Secrets::Skip).map_err(|e| {
        Failure::Runtime(anyhow::anyhow!(
            "the config with the new feeds would not load, so {} is left as it was:\n{e}",
            config_path.display()
        ))
    })?;
    replace_file(config_path, &updated)?;
    say!(
        "added {} feed(s) to {}; a running daemon polls them after a reload (`systemctl reload feedwatch`) or restart",
        plan.feeds.len(),
        config_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The file as text: UTF-8, or the encoding its XML declaration names.
fn read_opml(file: &Path) -> Result<String, Failure> {
    let bytes = std::fs::read(file)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", file.display())))?;
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => {
            let bytes = e.into_bytes();
            let head = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
            let label = head
                .split_once("encoding=")
                .and_then(|(_, rest)| rest.get(1..))
                .and_then(|rest| rest.split(['"', '\'']).next());
            let Some(enc) = label.and_then(|l| encoding_rs::Encoding::for_label(l.as_bytes()))
            else {
                return Err(Failure::Runtime(anyhow::anyhow!(
                    "{} is neither UTF-8 nor declares its encoding",
                    file.display()
                )));
            };
            Ok(enc.decode(&bytes).0.into_owned())
        }
    }
}

/// What was left out, and why, on stderr.
fn report(file: &Path, plan: &Import) {
    for s in &plan.skipped {
        let why = match &s.why {
            Skip::InConfig(name) => format!("already in the config as `{name}`"),
            Skip::Repeated(name) => {
                format!("listed again in {} (merged into `{name}`)", file.display())
            }
            Skip::Invalid(why) => why.clone(),
        };
        note!("skipped `{}` ({}): {why}", s.title, s.url);
    }
}

/// Replace `path` with `text` at once (a temporary file beside it, renamed over it), keeping
/// the file's permissions; a symlink's target is what gets replaced.
fn replace_file(path: &Path, text: &str) -> Result<(), Failure> {
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".into());
    let tmp = dir.join(format!(".{name}.feedwatch-{}", std::process::id()));
    let written = write_new(&tmp, text, std::fs::metadata(&target).ok())
        .and_then(|()| std::fs::rename(&tmp, &target).context("renaming it into place"));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e
            .context(format!(
                "replacing {} (it is left as it was)",
                target.display()
            ))
            .into());
    }
    Ok(())
}

/// Write `text` to a new file at `path`, synced, with the permissions of `like` if given.
fn write_new(path: &Path, text: &str, like: Option<std::fs::Metadata>) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    if let Some(meta) = like {
        std::fs::set_permissions(path, meta.permissions())
            .with_context(|| format!("setting the permissions of {}", path.display()))?;
    }
    Ok(())
}

pub fn export(cfg: Config) -> Result<ExitCode, Failure> {
    let title = format!("feedwatch feeds from {}", cfg.path.display());
    let xml = opml::export(&cfg.feeds, &title, chrono::Utc::now())
        .map_err(|e| Failure::Runtime(anyhow::anyhow!(e)))?;
    for line in xml.lines() {
        raw_line(line);
    }
    Ok(ExitCode::SUCCESS)
}
