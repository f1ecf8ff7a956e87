//! `chainsig bench --rate R`: a steady load, open loop — requests go out at `R` per second on
//! each domain whatever the answers do, as users' requests would, for `--seconds`. It reports,
//! per domain, what was sent, answered and lost, the latency, and the longest stretch without
//! an answer while requests were waiting: the figure that shows a stall (a resharing, a node
//! restarting) which an average hides. Every answer is verified against its derived key, and
//! no two answers may share a nonce commitment R (`nonce_reuses`, which fails the run): that
//! would mean an item was used twice, the one fault that gives the key away.

use client::{Domain, Signer};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Failure;

/// What one request came to.
struct Outcome {
    domain: u64,
    sent: Duration,
    /// When the verified answer came, with its nonce commitment, or why there was none.
    answer: Result<(Duration, [u8; 32]), String>,
}

/// One domain's figures.
#[derive(serde::Serialize)]
struct DomainReport {
    domain: u64,
    scheme: String,
    sent: usize,
    answered: usize,
    failed: usize,
    /// Answers whose nonce commitment R an earlier answer had: must be 0.
    nonce_reuses: usize,
    /// The longest time with requests waiting and no answer, in seconds, and when it began.
    longest_stall_s: f64,
    stall_began_at_s: f64,
    latency_ms: serde_json::Value,
}

pub async fn run(
    signer: Signer,
    domains: Vec<Domain>,
    rate: f64,
    seconds: u64,
    json: bool,
) -> Result<(), Failure> {
    if !(rate > 0.0 && rate <= 1000.0) {
        return Err(Failure::usage("--rate must be above 0 and at most 1000"));
    }
    let signer = Arc::new(signer);
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let names: Vec<String> = domains
        .iter()
        .map(|d| format!("{} ({:?})", d.id, d.scheme))
        .collect();
    eprintln!(
        "bench: {rate}/s on each of {} for {seconds} s, as {}",
        names.join(", "),
        signer.account()
    );
    let start = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let total = (rate * seconds as f64).floor() as usize;
    for domain in &domains {
        let (signer, domain, tx) = (signer.clone(), domain.clone(), tx.clone());
        tokio::spawn(async move {
            for i in 0..total {
                let at = start + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(at.into()).await;
                let (signer, domain, tx) = (signer.clone(), domain.clone(), tx.clone());
                tokio::spawn(async move {
                    let path = format!("steady-{run_id}-{}-{i}", domain.id);
                    let payload: [u8; 32] = Sha256::digest(path.as_bytes()).into();
                    let sent = start.elapsed();
                    let answer = signer
                        .sign(&domain, &path, &payload)
                        .await
                        .map(|signed| (start.elapsed(), signed.response.nonce_commitment()))
                        .map_err(|e| e.to_string());
                    let _ = tx.send(Outcome {
                        domain: domain.id,
                        sent,
                        answer,
                    });
                });
            }
        });
    }
    drop(tx);
    let expected = total * domains.len();
    let mut outcomes = Vec::with_capacity(expected);
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            outcome = rx.recv() => match outcome {
                Some(o) => outcomes.push(o),
                None => break,
            },
            _ = tick.tick() => {
                let failed = outcomes.iter().filter(|o| o.answer.is_err()).count();
                eprintln!(
                    "bench: t={:>5.1}s {}/{expected} done, {failed} failed",
                    start.elapsed().as_secs_f64(),
                    outcomes.len()
                );
            }
        }
    }
    let reports: Vec<DomainReport> = domains
        .iter()
        .map(|d| report(d, &outcomes, start.elapsed()))
        .collect();
    print(&reports, rate, seconds, json);
    let lost: usize = reports.iter().map(|r| r.failed).sum();
    if let Some(Err(e)) = outcomes.iter().map(|o| &o.answer).find(|a| a.is_err()) {
        eprintln!("bench: first failure: {e}");
    }
    let reuses: usize = reports.iter().map(|r| r.nonce_reuses).sum();
    match (lost, reuses) {
        (0, 0) => Ok(()),
        (lost, 0) => Err(Failure::failed(format!("{lost} requests failed"))),
        (lost, reuses) => Err(Failure::failed(format!(
            "{reuses} answers reused a nonce commitment (an item used twice); {lost} requests failed"
        ))),
    }
}

fn report(domain: &Domain, outcomes: &[Outcome], end: Duration) -> DomainReport {
    let mine: Vec<&Outcome> = outcomes.iter().filter(|o| o.domain == domain.id).collect();
    let mut answered: Vec<Duration> = mine
        .iter()
        .filter_map(|o| o.answer.as_ref().ok().map(|(at, _)| *at))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let nonce_reuses = mine
        .iter()
        .filter_map(|o| o.answer.as_ref().ok())
        .filter(|(_, r)| !seen.insert(*r))
        .count();
    answered.sort();
    let mut latencies: Vec<Duration> = mine
        .iter()
        .filter_map(|o| {
            o.answer
                .as_ref()
                .ok()
                .map(|(a, _)| a.saturating_sub(o.sent))
        })
        .collect();
    latencies.sort();
    let sends: Vec<Duration> = mine.iter().map(|o| o.sent).collect();
    let (stall, began) = longest_stall(&sends, &answered, end);
    let ms = |p| crate::bench_cmd::percentile(&latencies, p).as_secs_f64() * 1000.0;
    DomainReport {
        domain: domain.id,
        scheme: domain.scheme.to_string(),
        sent: mine.len(),
        answered: answered.len(),
        failed: mine.len() - answered.len(),
        nonce_reuses,
        longest_stall_s: stall.as_secs_f64(),
        stall_began_at_s: began.as_secs_f64(),
        latency_ms: serde_json::json!({"p50": ms(0.5), "p99": ms(0.99), "max": ms(1.0)}),
    }
}

/// The longest time during which a request was waiting and no answer came, and when it
/// began: between consecutive answers (the first send opens the first stretch, `end` closes
/// the last), counted from the stretch's start if a request was outstanding then, else from
/// the first request sent within it.
fn longest_stall(sends: &[Duration], answers: &[Duration], end: Duration) -> (Duration, Duration) {
    let Some(first_send) = sends.iter().min().copied() else {
        return (Duration::ZERO, Duration::ZERO);
    };
    let upto = |v: &[Duration], t: Duration| v.iter().filter(|&&x| x <= t).count();
    let mut marks = vec![first_send];
    marks.extend(answers.iter().copied());
    marks.push(end);
    let mut best = (Duration::ZERO, Duration::ZERO);
    for pair in marks.windows(2) {
        let (from, to) = (pair[0], pair[1]);
        let waiting_since = if upto(sends, from) > upto(answers, from) {
            from
        } else {
            sends
                .iter()
                .copied()
                .filter(|&s| s > from && s <= to)
                .min()
                .unwrap_or(to)
        };
        let gap = to.saturating_sub(waiting_since);
        if gap > best.0 {
            best = (gap, waiting_since);
        }
    }
    best
}

/// Prints the report. A reader that went away (a closed pipe) loses it; the run's outcome is
/// still the exit code, and nothing panics.
fn print(reports: &[DomainReport], rate: f64, seconds: u64, json: bool) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if json {
        let _ = writeln!(
            out,
            "{}",
            serde_json::json!({"rate_per_domain": rate, "seconds": seconds, "domains": reports})
        );
        return;
    }
    for r in reports {
        let _ = writeln!(
            out,
            "domain {} ({}): {} sent, {} answered, {} failed, {} nonce reuses; longest stall \
             {:.2} s (from t={:.1} s); latency p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            r.domain,
            r.scheme,
            r.sent,
            r.answered,
            r.failed,
            r.nonce_reuses,
            r.longest_stall_s,
            r.stall_began_at_s,
            r.latency_ms["p50"].as_f64().unwrap_or(0.0),
            r.latency_ms["p99"].as_f64().unwrap_or(0.0),
            r.latency_ms["max"].as_f64().unwrap_or(0.0),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::longest_stall;
    use std::time::Duration;

    fn s(v: &[f64]) -> Vec<Duration> {
        v.iter().map(|x| Duration::from_secs_f64(*x)).collect()
    }

    #[test]
    fn a_stall_counts_only_while_something_waits() {
        // Sent every second, answered half a second later, except a 5 s hole after t=3.
        let sends = s(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        let answers = s(&[0.5, 1.5, 2.5, 8.0, 8.1, 8.2]);
        let (gap, began) = longest_stall(&sends, &answers, Duration::from_secs(9));
        assert_eq!(
            (gap, began),
            (Duration::from_secs_f64(5.0), Duration::from_secs(3))
        );
        // All answered quickly: the longest stall is one request's latency.
        let quick = s(&[0.5, 1.5, 2.5, 3.5, 4.5, 5.5]);
        let (gap, _) = longest_stall(&sends, &quick, Duration::from_secs(60));
        assert_eq!(gap, Duration::from_secs_f64(0.5));
        // Nothing ever answered: from the first send to the end.
        let (gap, began) = longest_stall(&sends, &[], Duration::from_secs(9));
        assert_eq!((gap, began), (Duration::from_secs(9), Duration::ZERO));
    }
}
