//! The `maiac` command-line driver.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "maiac",
    version,
    about = "Triton TTIR compiler for a Maia-like accelerator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile a TTIR kernel to a binary (or print an intermediate stage).
    Compile {
        /// The TTIR file.
        kernel: PathBuf,
        /// Where to write the output (default: KERNEL.mbin next to the input; text stages print to stdout).
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// The machine: a built-in name (`maia200-like`, `tiny`) or a TOML file.
        #[arg(long)]
        machine: Option<String>,
        /// What to produce: ttir | tile | sched | asm | bin.
        #[arg(long, default_value = "bin")]
        emit: String,
        /// Print the IR after every pass and stage on stderr.
        #[arg(long)]
        print_ir_after_all: bool,
    },
    /// Run a kernel (.mbin, or .ttir compiled in memory) on the emulator, with the launch contract of `interp`.
    Run {
        /// The kernel: a binary (.mbin) or TTIR (.ttir).
        kernel: PathBuf,
        /// Launch grid: X[,Y[,Z]].
        #[arg(long)]
        grid: String,
        /// A kernel argument: NAME=FILE.npy for pointers, NAME=NUMBER for scalars.
        #[arg(long = "arg", value_name = "NAME=VALUE")]
        args: Vec<String>,
        /// Write a buffer after the run: NAME=FILE.npy.
        #[arg(long = "out", value_name = "NAME=FILE.npy")]
        outs: Vec<String>,
        /// The machine (default: the one the binary was built for; for .ttir the default machine).
        #[arg(long)]
        machine: Option<String>,
        /// Print cycle-model statistics: text or json (json: one object on stdout).
        #[arg(long)]
        stats: Option<String>,
        /// Write a Chrome/Perfetto trace of the run.
        #[arg(long)]
        trace: Option<PathBuf>,
        /// Stop with an error after this many modelled cycles (an endless-loop guard)
        #[arg(long, default_value_t = maiac_runtime_emu::emu::DEFAULT_MAX_CYCLES)]
        max_cycles: u64,
    },
    /// Quantize a float32 .npy array to OCP MX along its last axis.
    Quantize {
        /// The input array (`<f4`, last axis a multiple of 32).
        input: PathBuf,
        /// mxfp8-e4m3 | mxfp8-e5m2 | mxfp6-e3m2 | mxfp6-e2m3 | mxfp4
        #[arg(long)]
        format: String,
        /// Where to write the element codes (uint8).
        #[arg(long)]
        codes: PathBuf,
        /// Where to write the E8M0 scales (uint8).
        #[arg(long)]
        scales: PathBuf,
    },
    /// Show a machine model and its derived figures.
    Machine {
        /// A built-in machine name (`maia200-like`, `tiny`) or a TOML file.
        #[arg(long)]
        machine: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Assemble ISA text into a binary.
    Asm {
        /// The assembly file.
        input: PathBuf,
        /// The binary to write.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Disassemble a binary into ISA text.
    Disasm {
        /// The binary file.
        input: PathBuf,
    },
    /// Print a TTIR module in canonical form (FILE or `-` for stdin).
    Fmt {
        /// The TTIR file, or `-`.
        file: PathBuf,
    },
    /// Parse and verify a TTIR module; errors point at line:col and the Python line.
    Check {
        /// The TTIR file, or `-`.
        file: PathBuf,
    },
    /// Run a kernel on the reference interpreter (exact semantics).
    Interp {
        /// The TTIR file.
        kernel: PathBuf,
        /// Launch grid: X[,Y[,Z]].
        #[arg(long)]
        grid: String,
        /// A kernel argument: NAME=FILE.npy for pointers, NAME=NUMBER for scalars.
        #[arg(long = "arg", value_name = "NAME=VALUE")]
        args: Vec<String>,
        /// Write a buffer after the run: NAME=FILE.npy.
        #[arg(long = "out", value_name = "NAME=FILE.npy")]
        outs: Vec<String>,
        /// Stop with an error when a program takes more loop iterations and branches than this (an endless-loop guard)
        #[arg(long, default_value_t = maiac_compiler::interp::DEFAULT_MAX_STEPS)]
        max_steps: u64,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors; usage errors exit 1 like
            // every other user error.
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Compile {
            kernel,
            output,
            machine,
            emit,
            print_ir_after_all,
        } => match maiac_compiler::driver::Stage::parse(&emit) {
            Err(e) => Err(format!("error: {e}\n")),
            Ok(emit) => {
                maiac_compiler::cli::compile_command(&maiac_compiler::cli::CompileRequest {
                    input: &kernel,
                    output: output.as_deref(),
                    machine: machine.as_deref(),
                    emit,
                    print_ir_after_all,
                })
                .map(|out| {
                    eprint!("{}", out.stderr);
                    print!("{}", out.stdout);
                })
            }
        },
        Command::Run {
            kernel,
            grid,
            args,
            outs,
            machine,
            stats,
            trace,
            max_cycles,
        } => {
            match stats
                .as_deref()
                .map(maiac_compiler::run::StatsFormat::parse)
                .transpose()
            {
                Err(e) => Err(format!("error: {e}\n")),
                Ok(stats) => {
                    maiac_compiler::run::run_binary_command(&maiac_compiler::run::RunRequest {
                        binary: &kernel,
                        machine: machine.as_deref(),
                        grid: &grid,
                        args: &args,
                        outs: &outs,
                        stats,
                        trace: trace.as_deref(),
                        max_cycles,
                    })
                    .map(|text| print!("{text}"))
                }
            }
        }
        Command::Quantize {
            input,
            format,
            codes,
            scales,
        } => maiac_compiler::quantize::quantize_command(&input, &format, &codes, &scales)
            .map_err(|e| format!("error: {e}\n")),
        Command::Machine { machine, json } => {
            maiac_backend::machine::describe(machine.as_deref(), json)
                .map(|text| print!("{text}"))
                .map_err(|e| format!("error: {e}\n"))
        }
        Command::Asm { input, output } => {
            maiac_backend::asm::assemble_file(&input, &output).map_err(|e| format!("error: {e}\n"))
        }
        Command::Disasm { input } => maiac_backend::asm::disassemble_file(&input)
            .map(|text| print!("{text}"))
            .map_err(|e| format!("error: {e}\n")),
        Command::Fmt { file } => {
            maiac_compiler::cli::fmt_command(&file).map(|text| print!("{text}"))
        }
        Command::Check { file } => {
            maiac_compiler::cli::check_command(&file).map(|text| print!("{text}"))
        }
        Command::Interp {
            kernel,
            grid,
            args,
            outs,
            max_steps,
        } => maiac_compiler::interp::interp_command(&kernel, &grid, &args, &outs, max_steps),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprint!("{message}");
            ExitCode::from(1)
        }
    }
}
