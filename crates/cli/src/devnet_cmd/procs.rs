//! The devnet's children and their supervision.
//!
//! Every child (the chain, each node, each foreign chain) runs in its own process group, so
//! that Ctrl-C in the terminal reaches the devnet alone and the devnet stops its children in
//! order; its output is appended to its log and its pid written beside the log (`chainsig
//! bench` reads CPU time from there, a chaos script kills from there).
//!
//! Once the devnet is ready it supervises, as an operator's service manager would: a node or
//! the chain that exits on its own — a crash, a `kill -9` — is reported and started again
//! from its directory after [`RESTART_DELAY`], so one crash shows as what it is (a node down
//! for a while) instead of tearing the whole network down. A child that exits
//! [`CRASH_LOOP_EXITS`] times in a row, each time within [`MIN_UPTIME`] of its start, is in a
//! crash loop (a port taken, a broken directory): restarting it again would only hide the
//! fault, so the devnet stops with the child's log. A child killed after it ran a while is no
//! crash loop however often it happens — a fault campaign kills the same node many times. Foreign chains
//! that keep their state in memory (anvil, litesvm) are not restarted — a restart would
//! silently drop every balance funded on them — and their exit stops the devnet as before.
//! While the devnet starts, any exit stops it: a start-up failure is a configuration error
//! more often than a crash.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{io, progress};
use crate::Failure;

/// How long a child that exited stays down before it is started again: long enough that a
/// crash loop does not spin, short enough that peers barely notice.
pub(super) const RESTART_DELAY: Duration = Duration::from_secs(1);
/// Exits in a row, each within [`MIN_UPTIME`] of the start, that make a crash loop.
pub(super) const CRASH_LOOP_EXITS: usize = 5;
/// A child that ran this long before it exited did start: its exit is no sign of a loop.
pub(super) const MIN_UPTIME: Duration = Duration::from_secs(2);

/// What of a child's output goes to its log.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Output {
    /// chainsig's own processes log on stderr and print nothing else.
    StderrOnly,
    /// Foreign chains log on stdout too.
    Both,
}

/// What the supervisor does when a child exits on its own.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum OnExit {
    /// Start it again from its directory (the chain, the nodes, the regtest chain: their
    /// state is on disk).
    Restart,
    /// Stop the devnet: the child's state would not survive a restart.
    StopTheDevnet,
}

/// How a child is started, kept to start it again.
struct Recipe {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    output: Output,
}

/// A child process, killed if still running when dropped.
pub(super) struct Proc {
    pub name: String,
    child: Child,
    log: PathBuf,
    /// Where its pid is, for `chainsig bench` to read its CPU time.
    pid_file: PathBuf,
    recipe: Recipe,
    on_exit: OnExit,
    exits: Exits,
    /// When the running process was started.
    started: Instant,
    /// Since when it is down, waiting to be restarted.
    down_since: Option<Instant>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

/// `chainsig` itself as a child process (the chain, a node), logging to `log`.
pub(super) fn spawn(
    name: &str,
    args: &[&str],
    env: &[(&str, String)],
    log: PathBuf,
) -> Result<Proc, Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::failed(format!("cannot find this program: {e}")))?;
    spawn_program(
        name,
        &exe,
        args,
        env,
        Output::StderrOnly,
        OnExit::Restart,
        log,
    )
}

/// `program` as a child process in its own process group, its `output` appended to `log`,
/// its pid written beside the log.
pub(super) fn spawn_program(
    name: &str,
    program: &Path,
    args: &[&str],
    env: &[(&str, String)],
    output: Output,
    on_exit: OnExit,
    log: PathBuf,
) -> Result<Proc, Failure> {
    let recipe = Recipe {
        program: program.to_owned(),
        args: args.iter().map(|a| a.to_string()).collect(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        output,
    };
    let child = recipe.start(name, &log)?;
    let pid_file = log
        .parent()
        .unwrap_or(Path::new("."))
        .join(crate::cpu::PID_FILE);
    // Wrapped first: if the pid file cannot be written, dropping the `Proc` stops the child
    // instead of leaving it running in its own process group.
    let proc = Proc {
        name: name.to_owned(),
        child,
        log,
        pid_file,
        recipe,
        on_exit,
        exits: Exits::default(),
        started: Instant::now(),
        down_since: None,
    };
    proc.write_pid()?;
    Ok(proc)
}

impl Recipe {
    fn start(&self, name: &str, log: &Path) -> Result<Child, Failure> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(io(log))?;
        let stdout = match self.output {
            Output::StderrOnly => Stdio::null(),
            Output::Both => Stdio::from(file.try_clone().map_err(io(log))?),
        };
        Command::new(&self.program)
            .args(&self.args)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env("CHAINSIG_LOG_FORMAT", crate::log_format().name())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(file)
            // Ctrl-C in the terminal reaches the whole process group; the devnet itself stops
            // its children in order, so they get their own group.
            .process_group(0)
            .spawn()
            .map_err(|e| Failure::failed(format!("cannot start {name}: {e}")))
    }
}

impl Proc {
    fn write_pid(&self) -> Result<(), Failure> {
        std::fs::write(&self.pid_file, self.child.id().to_string()).map_err(io(&self.pid_file))
    }

    fn exited(&self, status: ExitStatus) -> Failure {
        Failure::failed(format!(
            "{} exited ({status}); its log {}:\n{}",
            self.name,
            self.log.display(),
            tail(&self.log)
        ))
    }

    /// One step of supervision: notices an exit, restarts after the delay.
    fn supervise(&mut self, now: Instant) -> Result<(), Failure> {
        match self.down_since {
            None => {
                let Ok(Some(status)) = self.child.try_wait() else {
                    return Ok(());
                };
                if self.on_exit == OnExit::StopTheDevnet {
                    return Err(self.exited(status));
                }
                if !self
                    .exits
                    .record(now.saturating_duration_since(self.started))
                {
                    return Err(Failure::failed(format!(
                        "{} exited {CRASH_LOOP_EXITS} times in a row within {} s of its start, \
                         the last time ({status}): a crash loop, not restarted again; its log \
                         {}:\n{}",
                        self.name,
                        MIN_UPTIME.as_secs(),
                        self.log.display(),
                        tail(&self.log)
                    )));
                }
                progress(format!(
                    "{} exited ({status}); restarting it in {} s",
                    self.name,
                    RESTART_DELAY.as_secs()
                ));
                self.down_since = Some(now);
            }
            Some(since) if now.duration_since(since) >= RESTART_DELAY => {
                self.child = self.recipe.start(&self.name, &self.log)?;
                self.started = now;
                self.down_since = None;
                self.write_pid()?;
                progress(format!(
                    "{} restarted (pid {}; restart {})",
                    self.name,
                    self.child.id(),
                    self.exits.total
                ));
            }
            Some(_) => {}
        }
        Ok(())
    }
}

/// One child's exits, for the crash-loop rule.
#[derive(Default)]
struct Exits {
    /// Exits in a row that came within [`MIN_UPTIME`] of the start.
    quick: usize,
    total: usize,
}

impl Exits {
    /// Records an exit after `uptime`; false when it makes a crash loop.
    fn record(&mut self, uptime: Duration) -> bool {
        self.total += 1;
        self.quick = if uptime < MIN_UPTIME {
            self.quick + 1
        } else {
            0
        };
        self.quick < CRASH_LOOP_EXITS
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// While the devnet starts: any child that exited stops it.
pub(super) fn check_alive(procs: &mut [Proc]) -> Result<(), Failure> {
    for p in procs {
        if let Ok(Some(status)) = p.child.try_wait() {
            return Err(p.exited(status));
        }
    }
    Ok(())
}

/// Once the devnet is ready: restarts what exited (see the module doc); an error when a
/// child may not be restarted or crash-loops.
pub(super) fn supervise(procs: &mut [Proc]) -> Result<(), Failure> {
    let now = Instant::now();
    procs.iter_mut().try_for_each(|p| p.supervise(now))
}

/// Stops a child (SIGTERM, then up to 15 s for it to exit; dropping it kills what is left).
pub(super) async fn stop(p: &mut Proc) {
    if p.down_since.is_some() {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &p.child.id().to_string()])
        .status();
    let until = Instant::now() + Duration::from_secs(15);
    while Instant::now() < until {
        if let Ok(Some(_)) = p.child.try_wait() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Stops every child, the last started first.
pub(super) async fn shut_down(procs: &mut [Proc]) {
    for p in procs.iter_mut().rev() {
        stop(p).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `r`'s success, or a test failure with its message (`Failure` has no `Debug`).
    fn ok<T>(r: Result<T, Failure>, what: &str) -> T {
        r.unwrap_or_else(|e| panic!("{what}: {}", e.message))
    }

    #[test]
    fn a_child_killed_after_it_ran_a_while_is_never_a_crash_loop() {
        let mut exits = Exits::default();
        for k in 0..100 {
            assert!(exits.record(MIN_UPTIME), "exit {k} counted as a crash loop");
        }
    }

    #[test]
    fn quick_exits_in_a_row_are_a_crash_loop_and_one_long_run_resets_them() {
        let mut exits = Exits::default();
        let quick = Duration::from_millis(100);
        for _ in 0..CRASH_LOOP_EXITS - 1 {
            assert!(exits.record(quick));
        }
        assert!(exits.record(MIN_UPTIME * 10), "it ran: no loop");
        for _ in 0..CRASH_LOOP_EXITS - 1 {
            assert!(exits.record(quick));
        }
        assert!(!exits.record(quick), "the fifth quick exit in a row");
    }

    fn sleeper(on_exit: OnExit, dir: &Path) -> Proc {
        ok(
            spawn_program(
                "a sleeper",
                Path::new("/bin/sleep"),
                &["30"],
                &[],
                Output::StderrOnly,
                on_exit,
                dir.join("log"),
            ),
            "sleep starts",
        )
    }

    fn kill_9(p: &Proc) {
        let status = Command::new("kill")
            .args(["-KILL", &p.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    #[test]
    fn a_killed_child_is_restarted_after_the_delay_with_a_new_pid_file() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut p = sleeper(OnExit::Restart, dir.path());
        let first = p.child.id();
        kill_9(&p);
        std::thread::sleep(Duration::from_millis(200));
        let t0 = Instant::now();
        ok(p.supervise(t0), "one exit is no crash loop");
        assert!(p.down_since.is_some(), "the exit was not noticed");
        ok(p.supervise(t0 + RESTART_DELAY / 2), "waits");
        assert!(p.down_since.is_some(), "restarted before the delay");
        ok(p.supervise(t0 + RESTART_DELAY), "restarts");
        assert!(p.down_since.is_none());
        let pid: u32 = std::fs::read_to_string(&p.pid_file)
            .expect("a pid file")
            .parse()
            .expect("a pid");
        assert_ne!(pid, first);
        assert_eq!(pid, p.child.id());
        assert!(matches!(p.child.try_wait(), Ok(None)), "not running again");
    }

    #[test]
    fn a_child_whose_state_is_in_memory_stops_the_devnet() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut p = sleeper(OnExit::StopTheDevnet, dir.path());
        kill_9(&p);
        std::thread::sleep(Duration::from_millis(200));
        let e = p
            .supervise(Instant::now())
            .expect_err("must stop the devnet");
        assert!(e.message.contains("a sleeper exited"), "{}", e.message);
    }

    #[test]
    fn a_crash_loop_stops_the_devnet() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut p = sleeper(OnExit::Restart, dir.path());
        let mut now = Instant::now();
        for _ in 0..CRASH_LOOP_EXITS - 1 {
            kill_9(&p);
            std::thread::sleep(Duration::from_millis(100));
            ok(p.supervise(now), "noticed");
            now += RESTART_DELAY;
            ok(p.supervise(now), "restarted");
        }
        kill_9(&p);
        std::thread::sleep(Duration::from_millis(100));
        let e = p.supervise(now).expect_err("the fifth quick exit in a row");
        assert!(e.message.contains("crash loop"), "{}", e.message);
    }
}
