//! `lamlog`: the command line. Thin by design: each subcommand parses its
//! flags, builds the pipeline's pieces and calls the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
