//! The `file_storage` extension: where persistent sending queues keep their
//! write-ahead logs (`sending_queue.storage: file_storage[/name]`). See
//! [`crate::pipeline::wal`] for the format and guarantees.

use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::component::{
    parse_config, BuildContext, BuildError, ComponentId, ConfigIssue, ExtensionConfig,
    ExtensionFactory, OpenedQueue, Running, Storage, Validate,
};
use crate::config::duration::GoDuration;
use crate::pipeline::stage::BoxFuture;
use crate::pipeline::wal::{Wal, WalSettings};
use crate::telemetry::metrics::Counter;

/// `extensions: file_storage:`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FileStorageConfig {
    /// Directory for the queue files. Default `/var/lib/otelcol/file_storage`
    /// (use `/tmp/...` in Lambda).
    pub directory: String,
    /// Sync every append to disk before the sender gets its 200 (group commit).
    pub fsync: bool,
    /// Create the directory when missing. Default true.
    pub create_directory: bool,
    /// Bytes per segment file before a new one starts. Default 64 MiB.
    pub segment_size: u64,
    /// Accepted for compatibility; segments are deleted as soon as acknowledged.
    pub compaction: Option<Value>,
    /// Accepted for compatibility.
    pub timeout: Option<GoDuration>,
    /// Accepted for compatibility.
    pub directory_permissions: Option<String>,
}

impl Default for FileStorageConfig {
    fn default() -> Self {
        FileStorageConfig {
            directory: "/var/lib/otelcol/file_storage".into(),
            fsync: false,
            create_directory: true,
            segment_size: 64 * 1024 * 1024,
            compaction: None,
            timeout: None,
            directory_permissions: None,
        }
    }
}

impl Validate for FileStorageConfig {
    fn validate(&self) -> Vec<ConfigIssue> {
        let mut v = Vec::new();
        if self.directory.is_empty() {
            v.push(ConfigIssue::new("directory", "must not be empty"));
        }
        if self.segment_size < 4096 {
            v.push(ConfigIssue::new(
                "segment_size",
                "must be at least 4096 bytes",
            ));
        }
        v
    }
}

/// Factory of the `file_storage` extension.
pub struct FileStorageFactory;

impl ExtensionFactory for FileStorageFactory {
    fn type_name(&self) -> &'static str {
        "file_storage"
    }
    fn parse(
        &self,
        prefix: &str,
        raw: &Value,
    ) -> Result<Box<dyn ExtensionConfig>, Vec<ConfigIssue>> {
        Ok(Box::new(parse_config::<FileStorageConfig>(prefix, raw)?))
    }
}

impl ExtensionConfig for FileStorageConfig {
    fn start<'a>(
        &'a self,
        _ctx: &'a BuildContext,
        id: &'a ComponentId,
    ) -> BoxFuture<'a, Result<Box<dyn Running>, BuildError>> {
        Box::pin(async move {
            check_directory(self).map_err(|e| BuildError::new(id, e))?;
            Ok(Box::new(Idle) as Box<dyn Running>)
        })
    }

    fn storage(&self) -> Option<&dyn Storage> {
        Some(self)
    }
}

impl Storage for FileStorageConfig {
    fn open(&self, name: &str, capacity: usize, corrupted: Counter) -> Result<OpenedQueue, String> {
        check_directory(self)?;
        let settings = WalSettings {
            dir: std::path::Path::new(&self.directory).join(name),
            fsync: self.fsync,
            capacity,
            segment_bytes: self.segment_size,
        };
        Wal::open(settings, corrupted).map_err(|e| format!("cannot open the persistent queue: {e}"))
    }
}

/// Creates (when allowed) and checks the directory.
pub fn check_directory(c: &FileStorageConfig) -> Result<(), String> {
    let dir = std::path::Path::new(&c.directory);
    if !dir.exists() {
        if !c.create_directory {
            return Err(format!(
                "directory {:?} does not exist (set create_directory: true)",
                c.directory
            ));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create directory {:?}: {e}", c.directory))?;
    }
    if !dir.is_dir() {
        return Err(format!("{:?} is not a directory", c.directory));
    }
    Ok(())
}

struct Idle;

impl Running for Idle {
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}
