//! `chainsig-btc-regtest`: the regtest chain as a process. Prints one JSON line on stdout once
//! it serves (`{"esplora_url", "height", "faucet_address"}`), logs on stderr, and stops on
//! SIGTERM or Ctrl-C with its chain written to `--dir` (started again, it resumes).

use anyhow::Context as _;
use btc_regtest::{Chain, Service};
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "chainsig-btc-regtest", version, about)]
struct Args {
    /// Where the chain is kept (created if missing; an existing chain resumes).
    #[arg(long)]
    dir: PathBuf,
    /// Where the Esplora API listens (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:3002")]
    listen: SocketAddr,
    /// Milliseconds between blocks (100 to 600000).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    block_ms: u64,
}

/// Forwards the validation engine's log lines: errors as warnings, the rest (a line per
/// block) at debug level.
struct KernelLog;

impl bitcoinkernel::Log for KernelLog {
    fn log(&self, message: &str) {
        let message = message.trim_end();
        if message.to_ascii_lowercase().contains("error") {
            tracing::warn!(target: "kernel", "{message}");
        } else {
            tracing::debug!(target: "kernel", "{message}");
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only for a terminal: the devnet appends this to a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let _kernel_log =
        bitcoinkernel::Logger::new(KernelLog).context("connecting the validation engine's log")?;
    std::fs::create_dir_all(&args.dir).with_context(|| format!("{}", args.dir.display()))?;
    let chain = Chain::open(&args.dir)?;
    let service = Arc::new(Service::new(chain));
    service.prepare()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(serve(Arc::clone(&service), &args))?;
    drop(runtime);
    // The last reference: the validation engine writes its state as the chain is dropped.
    drop(service);
    tracing::info!("stopped");
    Ok(())
}

async fn serve(service: Arc<Service>, args: &Args) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let url = format!("http://{}", listener.local_addr()?);
    let ready = serde_json::json!({
        "esplora_url": url,
        "height": service.chain().height(),
        "faucet_address": service.faucet().address().to_string(),
    });
    {
        use std::io::Write;
        // The devnet (or a test) reads this line to learn the URL; a closed stdout does not
        // stop the chain.
        let mut out = std::io::stdout();
        let _ = writeln!(out, "{ready}").and_then(|()| out.flush());
    }
    tracing::info!(%url, block_ms = args.block_ms, "serving");
    btc_regtest::service::run(
        service,
        listener,
        Duration::from_millis(args.block_ms),
        shutdown_signal(),
    )
    .await?;
    Ok(())
}

/// SIGTERM (how the devnet stops its children) or Ctrl-C.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    tracing::info!("stopping");
}
