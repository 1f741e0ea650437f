//! `tern`: the collector for ECS/Fargate sidecars and EC2 agents.

mod cli;

use clap::Parser;

#[global_allocator]
static ALLOC: tern_alloc::Counting = tern_alloc::Counting;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    tern_core::telemetry::set_heap_source(|| tern_core::telemetry::HeapStats {
        allocated: tern_alloc::allocated(),
        total_allocated: tern_alloc::total_allocated(),
    });
    cli::run(cli)
}
