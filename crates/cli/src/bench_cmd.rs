//! `chainsig bench`: signing throughput and latency against a running network.
//!
//! `--requests` `sign` transactions from one account, `--concurrency` in flight at once, each
//! with its own path and payload; every answer is verified against its derived key. Prints the
//! throughput, the latency percentiles and, once a second, the nodes' stock (when it knows
//! their HTTP endpoints: `--dir` of a devnet, or `--node-http`). With `--dir` it also reads
//! the CPU time the devnet's chain and nodes (and the bench itself) used during the run from
//! `/proc`, and prints it per signature. Before the run it measures the domain's protocol
//! ceiling on this machine (the protocols alone, in process: [`mpc::cost`]) and prints the
//! rate against it. `--rate` runs a steady open-loop load instead ([`crate::bench_steady`]).

use client::Signer;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Failure;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    contract: crate::near_args::Contract,
    #[command(flatten)]
    nodes: crate::devnet_cmd::NodeEndpoints,
    /// The account that asks (default: the devnet's user).
    #[arg(long)]
    account: Option<String>,
    /// Its near-cli key file (default: the devnet's user key with --dir, else as `sign` finds
    /// keys: $CHAINSIG_PRIVATE_KEY, then ~/.near-credentials).
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// How many signatures.
    #[arg(long, default_value_t = 100)]
    requests: usize,
    /// How many in flight at once.
    #[arg(long, default_value_t = 10)]
    concurrency: usize,
    /// The domain to sign on.
    #[arg(long, default_value_t = 0)]
    domain: u64,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
    /// Also draw the run (answered per second against the protocol ceiling, latency, each
    /// node's stock) as an SVG picture here.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// A steady load instead: this many requests per second on each domain, whatever the
    /// answers do, for --seconds; reports losses and the longest stall per domain.
    #[arg(long, conflicts_with_all = ["requests", "concurrency", "plot"])]
    rate: Option<f64>,
    /// With --rate: how long the load lasts.
    #[arg(long, default_value_t = 60, requires = "rate")]
    seconds: u64,
    /// With --rate: load every domain of the contract, not only --domain.
    #[arg(long, requires = "rate")]
    all_domains: bool,
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn run(args: Args) -> Result<(), Failure> {
    if args.requests == 0 || args.concurrency == 0 {
        return Err(Failure::usage(
            "--requests and --concurrency must be at least 1",
        ));
    }
    let mut cpu = crate::cpu::Groups::default();
    let nodes = args.nodes.endpoints()?;
    let (account, key_file) = match &args.nodes.dir {
        Some(dir) => {
            let pids = crate::devnet_cmd::node_dirs(dir)
                .iter()
                .filter_map(|d| crate::cpu::pid_in(d))
                .collect();
            cpu.add(
                "chain",
                crate::cpu::pid_in(&dir.join("chain")).into_iter().collect(),
            );
            cpu.add("nodes", pids);
            (
                crate::devnet_cmd::USER_ID.to_owned(),
                Some(dir.join("user_key.json")),
            )
        }
        None => (String::new(), None),
    };
    cpu.add("bench", vec![std::process::id()]);
    let account = args.account.clone().unwrap_or(account);
    let key_file = args.key_file.clone().or(key_file);
    if account.is_empty() {
        return Err(Failure::usage(
            "give --dir (a devnet) or --account and --key-file",
        ));
    }
    let key = crate::near_args::Account {
        account: account.clone(),
        key_file,
    };
    let rpc = key.rpc(&args.contract)?;
    let signer = Signer::new(rpc, &account);
    if let Some(rate) = args.rate {
        return crate::runtime()?.block_on(async {
            let domains = if args.all_domains {
                signer.domains().await
            } else {
                signer
                    .domain(Some(args.domain), None)
                    .await
                    .map(|d| vec![d])
            }
            .map_err(crate::sign_cmd::failure)?;
            crate::bench_steady::run(signer, domains, rate, args.seconds, args.json).await
        });
    }
    crate::runtime()?.block_on(bench(args, signer, nodes, cpu))
}

/// What the domain's protocols alone allow on this machine: every party of one signature run
/// in this process ([`mpc::cost`]), at the network's size and threshold, against the cores.
#[derive(Clone, Copy)]
struct Ceiling {
    protocol_ms: f64,
    per_second: f64,
}

async fn ceiling(signer: &Signer, scheme: primitives::SignatureScheme) -> Result<Ceiling, Failure> {
    let state = signer.state().await.map_err(crate::sign_cmd::failure)?;
    let n = state.participants.len();
    let t = state.threshold.unwrap_or_default() as usize;
    let cost = tokio::task::spawn_blocking(move || {
        mpc::cost::per_signature(scheme, n, t, Duration::from_secs(1))
    })
    .await
    .map_err(|e| Failure::failed(format!("measuring the protocol ceiling: {e}")))?
    .map_err(Failure::failed)?;
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get()) as f64;
    let protocol_ms = cost.as_secs_f64() * 1000.0;
    Ok(Ceiling {
        protocol_ms,
        per_second: cores * 1000.0 / protocol_ms,
    })
}

/// Share of one core each of the chain's and nodes' processes may use and still count as
/// quiet (idle, they follow blocks and send heartbeats).
const QUIET: f64 = 0.05;
/// How long to wait for them to be quiet before measuring anyway.
const QUIET_WAIT: Duration = Duration::from_secs(180);

/// Waits until the chain and nodes (when known, from --dir) use under [`QUIET`] of a core
/// each, reporting progress; after [`QUIET_WAIT`] it says the ceiling will be understated.
async fn wait_until_quiet(cpu: &crate::cpu::Groups) {
    let busy = |used: &[(String, Duration)]| -> f64 {
        used.iter()
            .filter(|(name, _)| name != "bench")
            .map(|(_, d)| d.as_secs_f64())
            .sum()
    };
    let processes = cpu.processes_except("bench");
    if processes == 0 {
        return; // nothing known to watch (no --dir)
    }
    let quiet = QUIET * processes as f64;
    let start = Instant::now();
    let mut last_report = start;
    loop {
        let before = cpu.sample();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let share = busy(&crate::cpu::used(&before, &cpu.sample()));
        if share < quiet {
            return;
        }
        if start.elapsed() >= QUIET_WAIT {
            eprintln!(
                "bench: the network still uses {:.0}% of a core; the protocol ceiling measured now is understated",
                share * 100.0
            );
            return;
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            eprintln!(
                "bench: waiting for the network to finish its refill before measuring the protocol ceiling ({:.0}% of a core in use)",
                share * 100.0
            );
        }
    }
}

async fn bench(
    args: Args,
    signer: Signer,
    nodes: Vec<SocketAddr>,
    cpu: crate::cpu::Groups,
) -> Result<(), Failure> {
    let domain = signer
        .domain(Some(args.domain), None)
        .await
        .map_err(crate::sign_cmd::failure)?;
    let (scheme, account) = (domain.scheme, signer.account().to_owned());
    // Measured before the run, so that it neither slows the run nor counts in its CPU, and
    // once the network is quiet: nodes still refilling their stock after a start took most
    // of the cores and the ceiling came out a tenth of what it is.
    wait_until_quiet(&cpu).await;
    let ceiling = ceiling(&signer, scheme).await?;
    let signer = Arc::new(signer);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    eprintln!(
        "bench: {} requests, {} at once, domain {} ({scheme:?}), as {account}",
        args.requests, args.concurrency, args.domain
    );
    let start = Instant::now();
    let cpu_before = cpu.sample();
    let mut answered_before = 0;
    let mut rate = vec![];
    let mut stock_samples = vec![];
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency.min(args.requests) {
        let (signer, next, done) = (signer.clone(), next.clone(), done.clone());
        let (total, domain) = (args.requests, domain.clone());
        workers.spawn(async move {
            let mut latencies = vec![];
            let mut failures = vec![];
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let path = format!("bench-{run_id}-{i}");
                let payload: [u8; 32] = Sha256::digest(path.as_bytes()).into();
                let t = Instant::now();
                match signer.sign(&domain, &path, &payload).await {
                    Ok(_) => latencies.push((start.elapsed(), t.elapsed())),
                    Err(e) => failures.push(e.to_string()),
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            (latencies, failures)
        });
    }
    let mut latencies = vec![];
    let mut failures = vec![];
    let mut samples = vec![];
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            joined = workers.join_next() => match joined {
                Some(Ok((l, f))) => { latencies.extend(l); failures.extend(f); }
                Some(Err(e)) => failures.push(format!("a worker failed: {e}")),
                None => break,
            },
            _ = tick.tick() => {
                let stock = sample_stock(&nodes, args.domain).await;
                let t = start.elapsed().as_secs_f64();
                let d = done.load(Ordering::Relaxed);
                eprintln!("bench: t={t:>5.1}s answered {d:>5}/{}  stock per node: {stock:?}", args.requests);
                samples.push(serde_json::json!({"t": t, "answered": d, "stock": stock}));
                rate.push((t, d.saturating_sub(answered_before) as f64));
                answered_before = d;
                stock_samples.push((t, stock));
            }
        }
    }
    let elapsed = start.elapsed();
    let cpu_used = crate::cpu::used(&cpu_before, &cpu.sample());
    if let Some(path) = &args.plot {
        let picture = crate::plot::Run {
            title: format!(
                "domain {} ({scheme}): {} requests, {} in flight",
                args.domain, args.requests, args.concurrency
            ),
            rate,
            ceiling: ceiling.per_second,
            latency: latencies
                .iter()
                .map(|(at, took)| (at.as_secs_f64(), took.as_secs_f64() * 1000.0))
                .collect(),
            stock: stock_samples,
        };
        crate::plot::draw(path, &picture).map_err(Failure::failed)?;
        eprintln!("bench: drew {}", path.display());
    }
    let mut latencies: Vec<Duration> = latencies.into_iter().map(|(_, took)| took).collect();
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let throughput = latencies.len() as f64 / elapsed.as_secs_f64();
    let per_signature: Vec<(String, f64)> = cpu_used
        .iter()
        .map(|(name, d)| (name.clone(), ms(*d) / latencies.len().max(1) as f64))
        .collect();
    let (p50, p90, p99) = (
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.9)),
        ms(percentile(&latencies, 0.99)),
    );
    if args.json {
        let out = serde_json::json!({
            "domain": args.domain,
            "scheme": scheme,
            "requests": args.requests,
            "concurrency": args.concurrency,
            "signed": latencies.len(),
            "failed": failures.len(),
            "seconds": elapsed.as_secs_f64(),
            "throughput_per_s": throughput,
            "protocol_ms_per_signature": ceiling.protocol_ms,
            "ceiling_per_s": ceiling.per_second,
            "of_ceiling": throughput / ceiling.per_second,
            "latency_ms": {"p50": p50, "p90": p90, "p99": p99},
            "cpu_ms_per_signature": per_signature
                .iter()
                .map(|(name, v)| (name.clone(), serde_json::json!(v)))
                .collect::<serde_json::Map<_, _>>(),
            "stock_samples": samples,
        });
        println!("{out}");
    } else {
        println!(
            "domain {} ({scheme:?}): {} signed, {} failed in {:.1} s",
            args.domain,
            latencies.len(),
            failures.len(),
            elapsed.as_secs_f64()
        );
        println!(
            "throughput   {throughput:.2} signatures/s, {:.0} % of the protocols' ceiling \
             here ({:.1}/s: {:.2} ms of protocol CPU per signature)",
            100.0 * throughput / ceiling.per_second,
            ceiling.per_second,
            ceiling.protocol_ms
        );
        println!("latency      p50 {p50:.0} ms, p90 {p90:.0} ms, p99 {p99:.0} ms");
        if !per_signature.is_empty() {
            let parts: Vec<String> = per_signature
                .iter()
                .map(|(name, v)| format!("{name} {v:.2} ms"))
                .collect();
            println!("CPU/sig      {}", parts.join(", "));
        }
    }
    if let Some(f) = failures.first() {
        eprintln!("bench: first failure: {f}");
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failure::failed(format!(
            "{} requests failed",
            failures.len()
        )))
    }
}

/// Each node's ready stock (presignatures or nonces) on `domain`; -1 where it did not answer.
async fn sample_stock(nodes: &[SocketAddr], domain: u64) -> Vec<i64> {
    let mut out = vec![];
    for addr in nodes {
        let status = crate::http::get_json::<node::service::Status>(*addr, "/health").await;
        out.push(status.map_or(-1, |s| {
            s.stock
                .iter()
                .filter(|l| l.domain == domain && l.kind != node::store::Kind::Triple)
                .map(|l| l.count as i64)
                .sum()
        }));
    }
    out
}
