//! `tern-extension`: Tern as an AWS Lambda extension (shipped as `extensions/tern`).

mod api;
mod flush;
mod lifecycle;
mod listener;
mod settings;
mod startup;

#[global_allocator]
static ALLOC: tern_alloc::Counting = tern_alloc::Counting;

fn main() -> std::process::ExitCode {
    let exec = std::time::Instant::now();
    tern_core::startup::count_heap();
    let runtime = match tern_core::startup::runtime(Some(2)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tern-extension: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let code = runtime.block_on(startup::run(exec));
    // Do not wait for blocking tasks (stdin readers and the like) at exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::ExitCode::from(code)
}
