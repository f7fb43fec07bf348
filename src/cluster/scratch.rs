//! A throwaway PostgreSQL server for tests and benchmarks: `initdb` into a temporary
//! directory, `pg_ctl start` on a free local port, stopped and deleted on drop. Run as the
//! `postgres` user when we are root (PostgreSQL refuses to run as root). Not used by the
//! daemon.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

/// A running scratch server.
pub struct ScratchPostgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

/// Where Debian puts the server binaries (the newest version installed), or `$PG_BIN`.
pub fn find_binaries() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BIN").map(PathBuf::from) {
        return dir.join("initdb").exists().then_some(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop()
}

impl ScratchPostgres {
    /// Start one, or `Ok(None)` when the PostgreSQL server binaries are not installed (the
    /// caller skips, saying so).
    pub fn start() -> anyhow::Result<Option<Self>> {
        let Some(bin) = find_binaries() else {
            return Ok(None);
        };
        // SAFETY: geteuid has no preconditions.
        let as_postgres = unsafe { libc::geteuid() } == 0;
        let dir = std::env::temp_dir().join(format!(
            "feedwatch-pg-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let port = free_port()?;
        let server = Self {
            dir,
            bin,
            port,
            as_postgres,
        };
        if as_postgres {
            server.chown_to_postgres()?;
        }
        let data = server.dir.join("data");
        server.run(
            "initdb",
            &[
                "-D",
                &data.to_string_lossy(),
                "-A",
                "trust",
                "-U",
                "feedwatch",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        // Durability is not what a test measures: no fsync, and enough connections for three
        // nodes and the test itself.
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            server.dir.display()
        );
        server.run(
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-o",
                &opts,
                "-l",
                &server.dir.join("log").to_string_lossy(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        )?;
        Ok(Some(server))
    }

    /// A URL of the server's `feedwatch` database (created at first use by [`create_db`]).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://feedwatch@127.0.0.1:{}/{db}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Create database `name`.
    pub fn create_db(&self, name: &str) -> anyhow::Result<String> {
        self.run(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "feedwatch",
                name,
            ],
        )?;
        Ok(self.url(name))
    }

    fn chown_to_postgres(&self) -> anyhow::Result<()> {
        let out = Command::new("id").args(["-u", "postgres"]).output()?;
        let gid = Command::new("id").args(["-g", "postgres"]).output()?;
        let parse = |o: &std::process::Output| -> anyhow::Result<u32> {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse()
                .context("running PostgreSQL as root needs a `postgres` user")
        };
        let (uid, gid) = (parse(&out)?, parse(&gid)?);
        let c = std::ffi::CString::new(self.dir.to_string_lossy().as_bytes())?;
        // SAFETY: a valid NUL-terminated path.
        if unsafe { libc::chown(c.as_ptr(), uid, gid) } != 0 {
            anyhow::bail!(
                "chown {}: {}",
                self.dir.display(),
                std::io::Error::last_os_error()
            );
        }
        Ok(())
    }

    fn run(&self, tool: &str, args: &[&str]) -> anyhow::Result<()> {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .current_dir(&self.dir)
            .output()
            .with_context(|| format!("running {}", exe.display()))?;
        if !out.status.success() {
            anyhow::bail!(
                "{tool} failed: {}{}",
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
            );
        }
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for ScratchPostgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self.run(
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr()?.port())
}
