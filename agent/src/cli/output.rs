//! Writing to the terminal. A closed pipe (`steward tools schema | head`) ends the command
//! quietly with status 141, what a Unix tool killed by SIGPIPE reports, instead of a panic;
//! any other write error is one line on stderr and status 1.

use std::io::Write;

/// Status of a command whose output pipe closed (128 + SIGPIPE).
pub const BROKEN_PIPE: i32 = 141;

/// Write `text` to standard output as it is.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        drop(out);
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(BROKEN_PIPE);
        }
        error_line(&format!("error: cannot write to standard output: {e}"));
        std::process::exit(1);
    }
}

/// Write one line to standard output.
pub fn line(text: &str) {
    print(&format!("{text}\n"));
}

/// One line on standard error; a closed stderr is ignored.
pub fn error_line(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}
