//! `tern`: the collector for ECS/Fargate sidecars and EC2 agents.

mod cli;

use clap::Parser;

#[global_allocator]
static ALLOC: tern_alloc::Counting = tern_alloc::Counting;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    tern_core::startup::count_heap();
    cli::run(cli)
}
