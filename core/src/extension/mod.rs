//! Extensions: collector-level services that are not part of a pipeline.

pub mod file_storage;
pub mod health_check;
pub mod sigv4auth;
