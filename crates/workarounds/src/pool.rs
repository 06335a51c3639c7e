//! A process pool in the spirit of `multiprocessing.Pool` and
//! `concurrent.futures.ProcessPoolExecutor`, built on the lesson's own binary.
//!
//! The parent starts each worker by running *itself* again (`std::env::current_exe()`) with the
//! hidden `--worker` flag. A worker is a separate process with its own model interpreter and
//! its own [`Gil`], so workers never wait for each other. Tasks travel to a worker on its stdin
//! and results come back on its stdout, one JSON object per line — the model's stand-in for
//! pickling.
//!
//! Architecture invariant: every worker process and every feeder thread ends when the pool
//! ends. [`ProcessPool::shutdown`] lets workers finish and exit on their own; dropping a pool
//! without it (an error path, a panic) kills the workers, reaps them, and joins the threads.
//! A worker also dies with the parent (`PR_SET_PDEATHSIG` on Linux, and end-of-file on stdin
//! everywhere), so a killed lesson leaves no orphans either.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use crossbeam::channel::{self, Receiver, Sender};
use gil_core::Gil;
use gil_core::measure::Stopwatch;
use serde::{Deserialize, Serialize};

/// The hidden command-line flag that puts the binary in worker mode.
pub const WORKER_FLAG: &str = "--worker";

/// One unit of work a worker can run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Task {
    /// `sum(i * i for i in range(n))` as model bytecode, holding the worker's own GIL.
    SumOfSquares {
        /// How many items.
        n: u64,
    },
    /// Sum of squares of numbers the parent sends: the cost is in shipping them.
    SumOfSquaresOf {
        /// The data, serialised with the task.
        values: Vec<f64>,
    },
    /// Sleep, to keep a worker busy (used to kill one mid-task).
    Sleep {
        /// Milliseconds.
        ms: u64,
    },
    /// Crash the worker with a Rust panic (an uncaught exception that takes the process down).
    Panic,
}

/// What a task returned.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Output {
    /// An integer result.
    Int(u64),
    /// A float result.
    Float(f64),
    /// No value (`None`).
    Nothing,
}

impl Output {
    /// The integer inside, if this is one.
    pub fn as_int(self) -> Option<u64> {
        match self {
            Output::Int(v) => Some(v),
            _ => None,
        }
    }

    /// The float inside, if this is one.
    pub fn as_float(self) -> Option<f64> {
        match self {
            Output::Float(v) => Some(v),
            _ => None,
        }
    }
}

/// Parent → worker: a batch of tasks (a `Pool.map` chunk; `submit` sends batches of one).
#[derive(Serialize, Deserialize)]
struct Request {
    tasks: Vec<Task>,
}

/// Worker → parent: the first line a worker prints, then one reply per request.
#[derive(Serialize, Deserialize)]
enum Message {
    /// "I am up": sent once, before the first request is read.
    Ready {
        /// The worker's process id.
        pid: u32,
    },
    /// The results of one request, in task order, and how long computing them took.
    Done {
        /// One output per task.
        results: Vec<Output>,
        /// Time spent computing, in nanoseconds (the rest of a round trip is overhead).
        busy_ns: u64,
    },
}

/// The results of one request as the parent sees them.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// One output per task, in order.
    pub results: Vec<Output>,
    /// Time the worker spent computing.
    pub busy: Duration,
}

/// A job waiting in the pool's queue.
struct Job {
    tasks: Vec<Task>,
    reply: Sender<anyhow::Result<Reply>>,
    /// Set to the worker index when a feeder picks the job up.
    running_on: Arc<Mutex<Option<usize>>>,
}

/// One worker process as the pool tracks it.
struct Worker {
    child: Child,
    pid: u32,
}

/// A pending result of [`ProcessPool::submit`], like `concurrent.futures.Future`.
pub struct TaskFuture {
    reply: Receiver<anyhow::Result<Reply>>,
    running_on: Arc<Mutex<Option<usize>>>,
}

impl TaskFuture {
    /// Block until the task is done and return its output (`future.result()`).
    ///
    /// Fails if the worker running it died: the pool is then broken, as CPython's
    /// `BrokenProcessPool` says.
    pub fn result(self) -> anyhow::Result<Output> {
        let reply = self.reply()?;
        reply
            .results
            .first()
            .copied()
            .ok_or_else(|| anyhow!("worker sent no result"))
    }

    /// Block until done and return the whole reply, with the worker's compute time.
    pub fn reply(self) -> anyhow::Result<Reply> {
        self.reply
            .recv()
            .map_err(|_| anyhow!("the pool shut down before the task ran"))?
    }

    /// Which worker (index) picked the task up, once one has (`future.running()`).
    pub fn running_on(&self) -> Option<usize> {
        *lock(&self.running_on)
    }
}

/// How the workers ended after [`ProcessPool::shutdown`].
#[derive(Clone, Debug)]
pub struct Shutdown {
    /// Each worker's pid and exit status.
    pub exits: Vec<(u32, ExitStatus)>,
}

/// Worker processes, each with its own interpreter and GIL, fed from one queue.
///
/// ```no_run
/// use workarounds::pool::{ProcessPool, Task};
/// let exe = std::env::current_exe()?;
/// let pool = ProcessPool::start(&exe, 2)?;
/// let outputs = pool.map(vec![Task::SumOfSquares { n: 10 }; 4], 1)?; // Pool.map
/// let future = pool.submit(Task::SumOfSquares { n: 10 });          // executor.submit
/// assert_eq!(future.result()?, outputs[0]);
/// pool.shutdown()?;
/// # anyhow::Ok(())
/// ```
pub struct ProcessPool {
    /// The queue feeders take jobs from; `None` once shutting down.
    jobs: Option<Sender<Job>>,
    /// One thread per worker: writes its requests, reads its replies.
    feeders: Vec<JoinHandle<()>>,
    /// The processes; shared so a feeder can reap its worker when it dies.
    workers: Arc<Mutex<Vec<Worker>>>,
    pids: Vec<u32>,
    start_up: Duration,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ProcessPool {
    /// Start `n` workers by running `exe --worker`, and wait until each says it is ready.
    ///
    /// `exe` is normally `std::env::current_exe()`; tests pass the lesson binary's path.
    pub fn start(exe: &Path, n: usize) -> anyhow::Result<Self> {
        let clock = Stopwatch::start();
        let mut pool = ProcessPool {
            jobs: None,
            feeders: Vec::new(),
            workers: Arc::new(Mutex::new(Vec::new())),
            pids: Vec::new(),
            start_up: Duration::ZERO,
        };
        // From here on an early return drops `pool`, which kills what was started.
        let mut pipes = Vec::new();
        for _ in 0..n.max(1) {
            let mut child = Command::new(exe)
                .arg(WORKER_FLAG)
                .arg(std::process::id().to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .with_context(|| format!("cannot start worker {}", exe.display()))?;
            let stdin = child.stdin.take().context("worker has no stdin")?;
            let stdout = BufReader::new(child.stdout.take().context("worker has no stdout")?);
            pool.pids.push(child.id());
            lock(&pool.workers).push(Worker {
                pid: child.id(),
                child,
            });
            pipes.push((stdin, stdout));
        }
        for (index, (_, stdout)) in pipes.iter_mut().enumerate() {
            match read_message(stdout)? {
                Some(Message::Ready { .. }) => {}
                _ => bail!("worker {index} (pid {}) did not start", pool.pids[index]),
            }
        }
        pool.start_up = clock.elapsed();

        let (sender, receiver) = channel::unbounded::<Job>();
        let broken = Arc::new(Mutex::new(None::<String>));
        for (index, (stdin, stdout)) in pipes.into_iter().enumerate() {
            let feeder = Feeder {
                index,
                pid: pool.pids[index],
                stdin,
                stdout,
                jobs: receiver.clone(),
                workers: Arc::clone(&pool.workers),
                broken: Arc::clone(&broken),
            };
            let handle = std::thread::Builder::new()
                .name(format!("feeder-{index}"))
                .spawn(move || feeder.run())
                .context("cannot start a feeder thread")?;
            pool.feeders.push(handle);
        }
        pool.jobs = Some(sender);
        Ok(pool)
    }

    /// The workers' process ids, in worker order.
    pub fn pids(&self) -> &[u32] {
        &self.pids
    }

    /// How long starting the workers took, until the last one said it was ready.
    pub fn start_up(&self) -> Duration {
        self.start_up
    }

    /// Queue one task; returns at once with a future (`executor.submit(fn, arg)`).
    pub fn submit(&self, task: Task) -> TaskFuture {
        self.submit_batch(vec![task])
    }

    fn submit_batch(&self, tasks: Vec<Task>) -> TaskFuture {
        let (reply, receiver) = channel::bounded(1);
        let running_on = Arc::new(Mutex::new(None));
        let job = Job {
            tasks,
            reply,
            running_on: Arc::clone(&running_on),
        };
        if let Some(jobs) = &self.jobs {
            // Feeders live until `jobs` is dropped, so sending cannot fail; if it ever did,
            // the job (and its reply sender) is dropped and `result()` reports it.
            let _ = jobs.send(job);
        }
        TaskFuture {
            reply: receiver,
            running_on,
        }
    }

    /// Run every task on the workers and return the outputs in task order (`Pool.map`).
    ///
    /// Tasks travel in chunks of `chunksize`: one round trip per chunk, so bigger chunks pay
    /// less messaging per task (CPython's `Pool.map` picks a chunk size for you).
    pub fn map(&self, tasks: Vec<Task>, chunksize: usize) -> anyhow::Result<Vec<Output>> {
        Ok(self
            .map_replies(tasks, chunksize)?
            .into_iter()
            .flat_map(|r| r.results)
            .collect())
    }

    /// Like [`map`](Self::map), but keep each chunk's reply (with its compute time).
    pub fn map_replies(&self, tasks: Vec<Task>, chunksize: usize) -> anyhow::Result<Vec<Reply>> {
        let futures: Vec<TaskFuture> = tasks
            .chunks(chunksize.max(1))
            .map(|chunk| self.submit_batch(chunk.to_vec()))
            .collect();
        futures.into_iter().map(TaskFuture::reply).collect()
    }

    /// Kill one worker with SIGKILL, as the OOM killer or a `kill -9` would.
    pub fn kill_worker(&self, index: usize) -> anyhow::Result<()> {
        let mut workers = lock(&self.workers);
        let worker = workers.get_mut(index).context("no such worker")?;
        worker.child.kill().context("cannot kill worker")
    }

    /// Finish queued work, let the workers exit on their own, and report how they ended
    /// (`pool.close(); pool.join()` / `executor.shutdown(wait=True)`).
    pub fn shutdown(mut self) -> anyhow::Result<Shutdown> {
        self.jobs = None;
        for feeder in self.feeders.drain(..) {
            let _ = feeder.join();
        }
        // Feeders closed the stdin pipes: idle workers see end-of-file and exit.
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut exits = Vec::new();
        let mut workers = lock(&self.workers);
        for worker in workers.iter_mut() {
            let status = loop {
                if let Some(status) = worker.child.try_wait()? {
                    break status;
                }
                if Instant::now() > deadline {
                    worker.child.kill()?;
                    break worker.child.wait()?;
                }
                std::thread::sleep(Duration::from_micros(100));
            };
            exits.push((worker.pid, status));
        }
        workers.clear();
        drop(workers);
        if let Some((pid, status)) = exits.iter().find(|(_, status)| !status.success()) {
            bail!("worker pid {pid} ended badly: {status}");
        }
        Ok(Shutdown { exits })
    }
}

impl Drop for ProcessPool {
    /// Not shut down cleanly: kill every worker, reap it, and join the feeders.
    fn drop(&mut self) {
        self.jobs = None;
        for worker in lock(&self.workers).iter_mut() {
            let _ = worker.child.kill();
            let _ = worker.child.wait();
        }
        for feeder in self.feeders.drain(..) {
            let _ = feeder.join();
        }
    }
}

/// The parent-side thread that talks to one worker.
struct Feeder {
    index: usize,
    pid: u32,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    jobs: Receiver<Job>,
    workers: Arc<Mutex<Vec<Worker>>>,
    /// Why the pool is broken, once a worker has died.
    broken: Arc<Mutex<Option<String>>>,
}

impl Feeder {
    fn run(mut self) {
        let jobs = self.jobs.clone();
        for job in jobs.iter() {
            if let Some(why) = lock(&self.broken).clone() {
                let _ = job.reply.send(Err(anyhow!("{why}")));
                continue;
            }
            *lock(&job.running_on) = Some(self.index);
            match self.round_trip(&job.tasks) {
                Ok(reply) => {
                    let _ = job.reply.send(Ok(reply));
                }
                Err(error) => {
                    let why = format!(
                        "broken process pool: worker {} (pid {}) died while running a task: {}",
                        self.index,
                        self.pid,
                        self.reap().unwrap_or_else(|| format!("{error:#}"))
                    );
                    *lock(&self.broken) = Some(why.clone());
                    let _ = job.reply.send(Err(anyhow!("{why}")));
                }
            }
        }
        // Dropping `self.stdin` here closes the pipe: the worker reads end-of-file and exits.
    }

    fn round_trip(&mut self, tasks: &[Task]) -> anyhow::Result<Reply> {
        let mut line = serde_json::to_string(&Request {
            tasks: tasks.to_vec(),
        })?;
        line.push('\n');
        self.stdin.write_all(line.as_bytes())?;
        self.stdin.flush()?;
        match read_message(&mut self.stdout)? {
            Some(Message::Done { results, busy_ns }) => Ok(Reply {
                results,
                busy: Duration::from_nanos(busy_ns),
            }),
            Some(Message::Ready { .. }) => bail!("unexpected second hello"),
            None => bail!("its output ended"),
        }
    }

    /// Make sure the dead worker is gone and reaped; describe how it ended.
    fn reap(&self) -> Option<String> {
        let mut workers = lock(&self.workers);
        let worker = workers.get_mut(self.index)?;
        // Already dead in every case we know of; kill() is then a no-op, wait() reaps.
        let _ = worker.child.kill();
        worker.child.wait().ok().map(|status| status.to_string())
    }
}

fn read_message(reader: &mut impl BufRead) -> anyhow::Result<Option<Message>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some(
        serde_json::from_str(&line).context("bad message from worker")?,
    ))
}

/// Run one task in this process, under `gil` (what a worker does; also the in-process baseline).
pub fn run_task(gil: &Gil, task: &Task) -> Output {
    match task {
        Task::SumOfSquares { n } => {
            Output::Int(gil.attach("worker", |py| gil_core::work::sum_of_squares(py, *n)))
        }
        Task::SumOfSquaresOf { values } => Output::Float(values.iter().map(|v| v * v).sum()),
        Task::Sleep { ms } => {
            std::thread::sleep(Duration::from_millis(*ms));
            Output::Nothing
        }
        Task::Panic => panic!("task asked the worker to crash"),
    }
}

/// The worker's main loop: say hello, then answer requests until stdin closes.
///
/// `parent` is the pid of the process that started us; if it is already gone, exit.
pub fn worker_main(parent: u32) -> anyhow::Result<()> {
    die_with_parent(parent);
    let pid = std::process::id();
    std::panic::set_hook(Box::new(move |info| {
        eprintln!("worker pid {pid} crashed: {info}");
    }));
    // Each worker process is a whole interpreter with its own GIL.
    let gil = Gil::new();
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "{}",
        serde_json::to_string(&Message::Ready { pid })?
    )?;
    stdout.flush()?;
    for line in stdin.lines() {
        let request: Request = serde_json::from_str(&line?).context("bad request")?;
        let clock = Stopwatch::start();
        let results = request.tasks.iter().map(|t| run_task(&gil, t)).collect();
        let busy_ns = u64::try_from(clock.elapsed().as_nanos()).unwrap_or(u64::MAX);
        writeln!(
            stdout,
            "{}",
            serde_json::to_string(&Message::Done { results, busy_ns })?
        )?;
        stdout.flush()?;
    }
    Ok(())
}

/// Ask Linux to SIGKILL this worker when its parent dies, even mid-task.
///
/// Linux sends the signal when the parent *thread* that started the worker ends, so a pool
/// must be started by a thread that outlives it (the lesson's main thread, a test's thread).
#[cfg(target_os = "linux")]
fn die_with_parent(parent: u32) {
    // SAFETY: prctl(PR_SET_PDEATHSIG) and getppid take no pointers and only change this
    // process's own signal disposition on parent death.
    let parent_now = unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        libc::getppid()
    };
    // The parent may have died before prctl ran; then we were re-parented and must go.
    if u32::try_from(parent_now).ok() != Some(parent) {
        std::process::exit(1);
    }
}

/// Elsewhere, end-of-file on stdin is the only signal that the parent went away.
#[cfg(not(target_os = "linux"))]
fn die_with_parent(_parent: u32) {}
