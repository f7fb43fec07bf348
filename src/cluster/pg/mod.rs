//! PostgreSQL: the connection pool, the schema, and the statements a node runs. Every lease is
//! compared with the database's clock (`now()`), so nodes with skewed clocks still agree who
//! holds what.

pub mod feeds;
pub mod ingest;
pub mod outbox;
pub mod schema;

use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

use crate::config::ClusterConfig;

/// A pool of connections to the cluster's database.
///
/// Every session gets `idle_in_transaction_session_timeout` = the lease: a node stopped
/// (SIGSTOP) in the middle of a transaction would otherwise hold its row locks for as long as
/// it stays stopped, and nobody could take its feeds or the clusterer's role over. The server
/// ends such a session instead, rolling its transaction back.
pub fn connect(cfg: &ClusterConfig, max_size: usize) -> anyhow::Result<Pool> {
    let mut pg: tokio_postgres::Config = cfg
        .url
        .parse()
        .with_context(|| format!("database URL {}", cfg.url))?;
    if let Some(pw) = &cfg.password {
        pg.password(pw.expose());
    }
    pg.application_name(format!("feedwatch {}", cfg.node));
    pg.connect_timeout(Duration::from_secs(10));
    pg.options(format!(
        "-c idle_in_transaction_session_timeout={} -c lock_timeout={}",
        cfg.lease.as_millis().max(1000),
        cfg.lease.as_millis().max(1000)
    ));
    let manager = Manager::from_config(
        pg,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(max_size.max(2))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(30)))
        .create_timeout(Some(Duration::from_secs(10)))
        .build()
        .context("building the database connection pool")
}

/// A connection from the pool, with the URL in the error (never a password: there is none in
/// it).
pub async fn client(pool: &Pool) -> anyhow::Result<deadpool_postgres::Object> {
    pool.get()
        .await
        .map_err(|e| anyhow::anyhow!("connecting to the database: {e}"))
}

/// Connect and migrate: what `feedwatch migrate` and a starting node do. Returns the version
/// found before and the version now.
pub async fn migrate(pool: &Pool) -> anyhow::Result<(usize, usize)> {
    let mut c = client(pool).await?;
    let before = schema::migrate(&mut c).await?;
    Ok((before, schema::latest()))
}

#[cfg(test)]
pub(crate) mod testing {
    //! A scratch server shared by the unit tests of the cluster (one per test binary), a
    //! fresh database for each test.

    use std::sync::{Mutex, OnceLock};

    use super::*;
    use crate::cluster::scratch::ScratchPostgres;

    static SERVER: OnceLock<Mutex<Option<ScratchPostgres>>> = OnceLock::new();

    /// A fresh, migrated database, or `None` (the test prints why and passes) when the
    /// PostgreSQL server binaries are not installed.
    pub async fn db(node: &str) -> Option<(Pool, ClusterConfig)> {
        let url = {
            let server = SERVER.get_or_init(|| {
                // Statics are never dropped: stop the server when the test binary exits.
                // SAFETY: registering a plain extern "C" function.
                unsafe { libc::atexit(stop_server) };
                Mutex::new(ScratchPostgres::start().expect("starting a scratch PostgreSQL"))
            });
            let guard = server.lock().unwrap_or_else(|e| e.into_inner());
            let Some(pg) = guard.as_ref() else {
                eprintln!(
                    "SKIPPED: PostgreSQL server binaries not found (apt-get install postgresql-15)"
                );
                return None;
            };
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            pg.create_db(&format!("t{}_{n}", std::process::id()))
                .unwrap()
        };
        let cfg = config(&url, node);
        let pool = connect(&cfg, 8).unwrap();
        migrate(&pool).await.unwrap();
        Some((pool, cfg))
    }

    extern "C" fn stop_server() {
        if let Some(server) = SERVER.get() {
            drop(server.lock().unwrap_or_else(|e| e.into_inner()).take());
        }
    }

    pub fn config(url: &str, node: &str) -> ClusterConfig {
        ClusterConfig {
            url: url.to_string(),
            password: None,
            node: node.to_string(),
            lease: Duration::from_secs(2),
        }
    }
}
