//! The threads that run heavy protocol steps (OT extensions, multiplications, proofs, key
//! generation and resharing): fixed pools of a few threads each, precomputation's at the
//! lowest scheduling priority, below the async workers that carry signing, heartbeats and the
//! chain (docs/design.md §8.3).
//!
//! These steps used to go to tokio's blocking pool, which grows a thread per step waiting
//! (up to 512). During a refill a node ran dozens of OT steps at once, each thread the
//! kernel's equal of the two async workers, and signatures that cost a few milliseconds
//! waited behind them: a V2Secp256k1 domain answering 62 requests a second fell to 10–30 for
//! the half-minute an epoch switch's refill took. Here the steps queue for a fixed set of
//! threads (as many as the machine has cores) that run at nice +19: when signing wants the
//! CPU it gets it, and precomputation takes every cycle signing leaves. Key generation and
//! resharing, rare and on the path of an epoch switch, have a pool of their own at the
//! caller's priority, so that a refill never holds them back.
//!
//! Why +19 and not a milder value: the kernel weighs each runnable thread by its nice value,
//! and a 2-core devnet runs six nodes with two heavy threads each. At +10 (weight 110 against
//! 1024) twelve threads weighed more than a busy async worker, and after a join the OT refill
//! took most of the CPU while Ed25519 requests offered at half the sustained rate piled up to
//! the contract's 1024-pending limit. At +19 (weight 15) they weigh 180 together.
//!
//! Caveats: the priority is a hint to the kernel (set per thread, on Linux only; a failure
//! is logged and the pool runs at normal priority); a step waits in the queue while all the
//! threads are busy, which lengthens a precomputation but does not change how much is made
//! per second of CPU.

use std::sync::{mpsc, Arc, Mutex};
use tracing::debug;

/// The nice value precomputation runs at: the lowest (weight 15 against the async workers'
/// 1024 under Linux's scheduler).
pub const PRECOMPUTE_NICE: i32 = 19;

type Job = Box<dyn FnOnce() + Send>;

/// A node's heavy-step pools.
pub struct Pools {
    /// Key generation and resharing, at the node's own priority.
    pub keys: Arc<Workers>,
    /// Triples and OT presignatures, at [`PRECOMPUTE_NICE`].
    pub precompute: Arc<Workers>,
}

impl Pools {
    /// Both pools, each with as many threads as the machine has cores (idle threads cost
    /// nothing but their stacks).
    pub fn for_this_machine() -> std::io::Result<Self> {
        Ok(Self {
            keys: Workers::for_this_machine("keys", 0)?,
            precompute: Workers::for_this_machine("heavy", PRECOMPUTE_NICE)?,
        })
    }
}

/// A fixed pool of threads for heavy protocol steps, at one priority. The threads end when
/// the pool is dropped.
pub struct Workers {
    queue: mpsc::Sender<Job>,
}

/// The pool is gone (the node is shutting down): the step did not run.
#[derive(Debug, thiserror::Error)]
#[error("the heavy-step pool has stopped")]
pub struct Stopped;

impl Workers {
    /// A pool of `threads` threads (at least one), named `name-N`, at nice `nice` (or the
    /// caller's, if that is lower already).
    pub fn start(name: &str, threads: usize, nice: i32) -> std::io::Result<Arc<Self>> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    lower_priority(nice);
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            // A step that panics drops its answer (its waiter sees the pool
                            // as stopped) and the thread stays for the next.
                            Ok(job) => {
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            Err(_) => return,
                        }
                    }
                })?;
        }
        Ok(Arc::new(Self { queue: tx }))
    }

    /// As many threads as the machine has cores, at nice `nice`.
    pub fn for_this_machine(name: &str, nice: i32) -> std::io::Result<Arc<Self>> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::start(name, cores, nice)
    }

    /// Runs `f` on one of the pool's threads and waits for its result.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Stopped> {
        let (back, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // The waiter may have gone (its instance timed out): the result is dropped.
            let _ = back.send(f());
        });
        self.queue.send(job).map_err(|_| Stopped)?;
        result.await.map_err(|_| Stopped)
    }
}

/// Lowers the calling thread's priority to `nice`, or leaves it if it is lower already
/// (Linux sets nice values per thread; raising one back takes privileges).
fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        let me = Some(rustix::thread::gettid());
        let now = getpriority_process(me).unwrap_or(0);
        if let Err(e) = setpriority_process(me, now.max(nice)) {
            debug!(error = %e, "cannot lower the heavy-step threads' priority");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn steps_run_on_the_pool_at_lower_priority_and_come_back() {
        let caller = rustix::process::getpriority_process(None).unwrap();
        let pool = Workers::start("test-heavy", 2, PRECOMPUTE_NICE).unwrap();
        let (name, nice) = pool
            .run(|| {
                let name = std::thread::current().name().map(str::to_owned);
                (name, rustix::process::getpriority_process(None).unwrap())
            })
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("test-heavy-"));
        assert_eq!(
            nice,
            caller.max(PRECOMPUTE_NICE),
            "the step ran at the pool's priority"
        );
        // The caller's thread is untouched.
        assert_eq!(rustix::process::getpriority_process(None).unwrap(), caller);
        let sums = futures_util::future::join_all((0..8u64).map(|i| pool.run(move || i * 2))).await;
        let sums: Vec<u64> = sums.into_iter().map(Result::unwrap).collect();
        assert_eq!(sums, (0..8).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn key_work_keeps_the_nodes_priority_and_precomputation_runs_at_the_lowest() {
        let caller = rustix::process::getpriority_process(None).unwrap();
        let pools = Pools::for_this_machine().unwrap();
        let nice = || rustix::process::getpriority_process(None).unwrap();
        assert_eq!(pools.keys.run(nice).await.unwrap(), caller);
        assert_eq!(
            pools.precompute.run(nice).await.unwrap(),
            caller.max(PRECOMPUTE_NICE)
        );
    }

    #[tokio::test]
    async fn a_panicking_step_is_an_error_not_a_hang() {
        let pool = Workers::start("test-panic", 1, PRECOMPUTE_NICE).unwrap();
        assert!(pool.run(|| panic!("boom")).await.is_err());
        assert_eq!(pool.run(|| 7).await.unwrap(), 7, "the thread lives on");
    }
}
