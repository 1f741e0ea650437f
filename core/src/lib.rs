//! Tern core: everything that is not process glue. See `ARCHITECTURE.md`.
//!
//! Layers (imports point down only): [`service`] → [`config`], [`registry`] →
//! components ([`receiver`], [`processor`], [`exporter`], [`extension`]) →
//! [`pipeline`], [`telemetry`], [`otlp`].

pub mod aws;
pub mod compression;
pub mod config;
pub mod exporter;
pub mod extension;
pub mod http;
pub mod net;
pub mod otlp;
pub mod pipeline;
pub mod processor;
pub mod receiver;
pub mod registry;
pub mod service;
pub mod telemetry;
