fn main() -> std::process::ExitCode {
    steward_agent::cli::main()
}
