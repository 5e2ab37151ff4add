//! Running the real `steward` binary: one-shot commands, and a daemon whose stdout is read
//! line by line while the test talks to it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub mod migration;
pub mod slack;

pub const STEWARD: &str = env!("CARGO_BIN_EXE_steward");

/// A scratch working directory: its own store, checkpoints and key.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Workdir {
        Workdir { dir: tempfile::tempdir().expect("tempdir") }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write file");
        path
    }

    /// `steward ARGS` in this directory, its home here too. `$USER` names someone who is
    /// not the OS account: Steward must not believe it.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(STEWARD);
        command.args(args).current_dir(self.path()).env_remove("STEWARD_STORE").env_remove("STEWARD_MODE");
        command.env_remove("STEWARD_CONFIG").env_remove("STEWARD_OPERATOR_KEY").env_remove("XDG_CONFIG_HOME");
        command.env("HOME", self.path()).env("USER", "mallory").env("LOGNAME", "mallory");
        command
    }

    /// `steward operator init` for `name`, its key in this directory: the key's path and the
    /// line that registers it under `[approvals.operators]`.
    pub fn operator(&self, name: &str) -> (PathBuf, String) {
        let key = self.path().join(format!("{name}.key"));
        let out = self.run(&["operator", "init", "--name", name, "--key", &key.display().to_string()]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        let line = text.lines().find(|l| l.starts_with(&format!("{name} = \"ed25519:"))).expect("the line to register");
        (key, line.to_string())
    }

    /// Run to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run steward")
    }

    /// Start a long-running daemon.
    pub fn spawn(&self, args: &[&str]) -> Daemon {
        Daemon::start(self.command(args))
    }
}

/// The OS account the tests (and so the CLI) run as.
pub fn os_user() -> String {
    steward_agent::identity::os_user().expect("an OS user name")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

/// A running `steward`; its stdout and stderr lines, as they come.
pub struct Daemon {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Daemon {
    /// Spawn `command`, reading both its outputs.
    pub fn start(mut command: Command) -> Daemon {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx2.send(line).is_err() {
                    break;
                }
            }
        });
        Daemon { child, lines: rx, seen: Vec::new() }
    }

    /// Every line so far, without waiting.
    pub fn drain(&mut self) -> &[String] {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        &self.seen
    }

    /// `kill -9`: no chance to clean up.
    pub fn kill9(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(line);
        }
        std::mem::take(&mut self.seen)
    }

    /// Wait (up to `timeout`) for a stdout line containing `needle`; return it.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        while Instant::now() < deadline {
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        panic!("no line with `{needle}` within {timeout:?}; saw:\n{}", self.seen.join("\n"));
    }

    /// The `http://127.0.0.1:PORT` from the start-up banner.
    pub fn address(&mut self) -> String {
        let banner = self.wait_for("listening on http://", Duration::from_secs(30));
        banner.rsplit("http://").next().expect("address").trim().to_string()
    }

    /// SIGTERM, then wait for the exit status.
    pub fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let status = self.child.wait().expect("wait");
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(line);
        }
        (status, std::mem::take(&mut self.seen))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// A plain HTTP/1.1 GET on loopback: `(status, body)`.
pub fn http_get(address: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// Poll `check` every 100 ms until it returns `Some`, or fail after `timeout`.
pub fn eventually<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
