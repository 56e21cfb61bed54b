//! The emulator: moto server (DynamoDB and Secrets Manager) on a free loopback port, run through
//! `scripts/moto_serialized.py` (one request at a time, so transactions are isolated as on
//! DynamoDB), stopped when dropped.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// A running moto server.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

/// `scripts/moto_serialized.py` of this workspace.
pub fn launcher() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/moto_serialized.py")
}

/// A port that was free a moment ago.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Moto {
    /// Starts the serialised moto server with `python` (the project venv's) on a free port, its log
    /// in `log`, and waits until it accepts connections. A port taken between choosing it and moto
    /// binding it (a busy machine's outgoing connections use the same range) makes moto exit at
    /// once: it is started again on another port, up to three times.
    pub async fn start(python: &Path, log: &Path) -> anyhow::Result<Self> {
        for attempt in 1..=3 {
            let port = free_port()?;
            let log_file = std::fs::File::create(log).with_context(|| format!("create {}", log.display()))?;
            let mut child = Command::new(python)
                .arg(launcher())
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(log_file.try_clone()?)
                .stderr(log_file)
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("start moto with {} (run `make venv` first)", python.display()))?;
            let started = Instant::now();
            loop {
                if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                    return Ok(Self { child, url: format!("http://127.0.0.1:{port}") });
                }
                if child.try_wait()?.is_some() {
                    tracing::warn!(
                        port,
                        attempt,
                        "moto exited before it listened (its port was taken?); starting it again"
                    );
                    break;
                }
                // A hang guard for a loaded machine, not a speed test.
                if started.elapsed() > Duration::from_secs(120) {
                    bail!("moto did not listen on port {port} within 120 s (hung?); see {}", log.display());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        bail!("moto exited before it listened, three times; see {}", log.display())
    }

    /// The serialised moto of this workspace's venv, its log in a fresh temporary directory named
    /// after `tag` and this process (returned too), and SDK settings pointing at it: what each
    /// benchmark that needs an emulator starts with.
    pub async fn for_bench(tag: &str) -> anyhow::Result<(Self, aws_config::SdkConfig, std::path::PathBuf)> {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let state = std::env::temp_dir().join(format!("{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&state)?;
        let moto = Self::start(&repo.join(".venv/bin/python"), &state.join("moto.log")).await?;
        let sdk = crate::admin::emulator_sdk_config(&moto.url).await;
        Ok((moto, sdk, state))
    }

    /// Stops the server and waits for it to exit.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// What each benchmark that needs the emulator starts with: the serialised moto (its log in a
/// fresh temporary directory), a table and secrets provisioned for `config`, an App over them and
/// a bootstrapped org (direct ApiKey auth off).
pub struct BenchStack {
    pub moto: Moto,
    pub state: std::path::PathBuf,
    pub config: shared::Config,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub template: std::sync::Arc<crate::template::Template>,
    pub app: std::sync::Arc<shared::App>,
    pub org: crate::admin::Bootstrapped,
}

impl BenchStack {
    /// Starts it; `tag` names the table, the secrets, the temporary directory and the org.
    pub async fn start(tag: &str, issuer: &str) -> anyhow::Result<Self> {
        Self::start_with(tag, issuer, |_| {}).await
    }

    /// [`Self::start`], with `adjust` applied to the configuration before anything is built from it.
    pub async fn start_with(tag: &str, issuer: &str, adjust: impl FnOnce(&mut shared::Config)) -> anyhow::Result<Self> {
        let (moto, sdk, state) = Moto::for_bench(tag).await?;
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        let template = std::sync::Arc::new(crate::template::Template::load_default()?);
        let mut config = shared::Config::new(tag, tag, issuer);
        adjust(&mut config);
        crate::admin::provision(&dynamo, &secrets, &config, &template).await?;
        let app = std::sync::Arc::new(shared::App::new(config.clone(), dynamo.clone(), &secrets).await?);
        let org = crate::admin::bootstrap(&app, tag, false).await?;
        Ok(Self { moto, state, config, dynamo, template, app, org })
    }

    /// Stops the emulator and removes the temporary directory.
    pub async fn stop(self) {
        self.moto.stop().await;
        let _ = std::fs::remove_dir_all(&self.state);
    }
}
