//! A real PostgreSQL server (Debian's package) for one test: `initdb` into a temp dir,
//! `pg_ctl start` on a free port of 127.0.0.1 (socket in the same dir), stopped
//! (immediate shutdown) and removed when dropped. `initdb` refuses to run as root, so as
//! root the cluster belongs to the `postgres` user and its tools run through `runuser`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Postgres {
    pub port: u16,
    bin: PathBuf,
    dir: tempfile::TempDir,
    as_postgres: bool,
}

/// The directory of `initdb` and `pg_ctl`: Debian keeps them off PATH.
fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    found.retain(|p| p.join("initdb").exists());
    found.sort();
    found.pop().expect("PostgreSQL's initdb (apt install postgresql)")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Postgres {
    pub fn start() -> Postgres {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::Builder::new().prefix("mlctl-pg").tempdir().unwrap();
        let pg = Postgres {
            port,
            bin: bin_dir(),
            dir,
            as_postgres: is_root(),
        };
        if pg.as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(pg.dir.path())
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown the cluster dir to postgres");
        }
        let data = pg.data();
        let out = pg.tool(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "mlctl",
                "--auth=trust",
                "--no-instructions",
                "-E",
                "UTF8",
            ],
        );
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        pg.ctl_start();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn tool(&self, name: &str, args: &[&str]) -> Output {
        let exe = self.bin.join(name);
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        c.args(args).current_dir(self.dir.path()).output().unwrap()
    }

    fn ctl_start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log");
        let data = self.data();
        let out = self.tool(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &opts,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "30",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// A fresh database on this server; its URL.
    pub fn database(&self, name: &str) -> String {
        let mut c = postgres::Client::connect(&self.url("postgres"), postgres::NoTls).unwrap();
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        self.url(name)
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://mlctl@127.0.0.1:{}/{db}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self.tool(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", "immediate", "-w", "stop"],
        );
    }
}
