//! Extensions: collector-level services that are not part of a pipeline.

pub mod health_check;
