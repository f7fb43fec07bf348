//! `migrate` (SQLite or PostgreSQL) and `nodes` (a cluster on PostgreSQL).

use std::process::ExitCode;

use feedwatch::cluster::{pg, status};
use feedwatch::config::{ClusterConfig, Config};
use feedwatch::store::Store;

use super::{Failure, print_json, runtime};

fn cluster_of(cfg: &Config) -> Result<&ClusterConfig, Failure> {
    cfg.daemon.cluster.as_ref().ok_or_else(|| {
        Failure::Usage(format!(
            "`database` in {} is a SQLite file; nodes share a postgres:// database",
            cfg.path.display()
        ))
    })
}

/// Create or upgrade the schema, then exit.
pub fn migrate(cfg: Config, copy_from: Option<std::path::PathBuf>) -> Result<ExitCode, Failure> {
    let Some(cluster) = cfg.daemon.cluster.clone() else {
        if copy_from.is_some() {
            return Err(Failure::Usage(
                "--copy-from copies a SQLite database into the postgres:// `database`; this config's is a SQLite file".into(),
            ));
        }
        let store = Store::open(&cfg.daemon.database, cfg.daemon.store)?;
        say!("{}: schema up to date", store.path().display());
        return Ok(ExitCode::SUCCESS);
    };
    runtime()?.block_on(async {
        let pool = pg::connect(&cluster, 4)?;
        let (before, now) = pg::migrate(&pool).await?;
        if before == now {
            say!("{}: schema up to date (version {now})", cluster.url);
        } else {
            say!(
                "{}: schema migrated from version {before} to {now}",
                cluster.url
            );
        }
        if let Some(path) = copy_from {
            let copied = feedwatch::cluster::copy::from_sqlite(&path, &pool, &cfg).await?;
            say!("copied {} into {}: {copied}", path.display(), cluster.url);
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The nodes of the cluster: owner, last heartbeat, buckets held, the clusterer.
pub fn nodes(cfg: Config, json: bool) -> Result<ExitCode, Failure> {
    let cluster = cluster_of(&cfg)?.clone();
    let view = runtime()?.block_on(status::cluster_view(&cluster))?;
    if json {
        print_json(&view)?;
    } else {
        for line in status::lines(&view, chrono::Utc::now()) {
            say!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
