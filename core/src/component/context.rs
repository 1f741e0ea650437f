//! What components get when they are built: the self-metrics registry, the
//! health handle, and typed slots for what components share (authenticators by
//! extension ID, one value per type such as the Lambda Telemetry hub, AWS SDK
//! configs resolved once per set of options).

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::auth::HttpAuthenticator;
use crate::config::id::ComponentId;
use crate::telemetry::metrics::Registry;

/// Readiness, shared with the health check.
#[derive(Debug)]
pub struct Health {
    ready: AtomicBool,
    up_since: Mutex<SystemTime>,
    started: Mutex<Instant>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            ready: AtomicBool::new(false),
            up_since: Mutex::new(SystemTime::now()),
            started: Mutex::new(Instant::now()),
        }
    }
}

impl Health {
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
    pub fn set_ready(&self, ready: bool) {
        if ready {
            if let Ok(mut t) = self.up_since.lock() {
                *t = SystemTime::now();
            }
            if let Ok(mut t) = self.started.lock() {
                *t = Instant::now();
            }
        }
        self.ready.store(ready, Ordering::Release);
    }
    pub fn up_since(&self) -> SystemTime {
        self.up_since
            .lock()
            .map(|t| *t)
            .unwrap_or_else(|_| SystemTime::now())
    }
    pub fn uptime(&self) -> Duration {
        self.started.lock().map(|t| t.elapsed()).unwrap_or_default()
    }
}

/// Values of one trait type published by component ID (e.g. the authenticator
/// that extension `sigv4auth/amp` provides). Publishing an ID twice replaces it.
pub struct Keyed<T: ?Sized> {
    map: Arc<Mutex<BTreeMap<ComponentId, Arc<T>>>>,
}

impl<T: ?Sized> Clone for Keyed<T> {
    fn clone(&self) -> Self {
        Keyed {
            map: self.map.clone(),
        }
    }
}

impl<T: ?Sized> Default for Keyed<T> {
    fn default() -> Self {
        Keyed {
            map: Arc::default(),
        }
    }
}

impl<T: ?Sized> Keyed<T> {
    pub fn publish(&self, id: &ComponentId, value: Arc<T>) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), value);
    }

    pub fn get(&self, id: &ComponentId) -> Option<Arc<T>> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }
}

/// One shared value per Rust type, created on first use. Keyed by the type
/// itself, so a lookup can never find a value of another type.
#[derive(Clone, Default)]
pub struct TypedSlots {
    map: Arc<Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>>,
}

impl TypedSlots {
    /// The value of type `T`, created with `T::default()` the first time.
    pub fn get_or_default<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let entry = map
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(T::default()) as Arc<dyn Any + Send + Sync>);
        match entry.clone().downcast::<T>() {
            Ok(v) => v,
            // Unreachable: entries are keyed by their own TypeId. Recover anyway.
            Err(_) => {
                let v = Arc::new(T::default());
                *entry = v.clone();
                v
            }
        }
    }
}

/// AWS SDK configs, resolved once per distinct set of options and shared by
/// every component that asks with the same options (region and credential
/// providers are resolved at most once per collector).
#[derive(Clone, Default)]
pub struct AwsConfigs {
    loaded: Arc<tokio::sync::Mutex<Vec<(crate::aws::AwsOptions, aws_config::SdkConfig)>>>,
}

impl AwsConfigs {
    pub async fn load(
        &self,
        opts: &crate::aws::AwsOptions,
    ) -> Result<aws_config::SdkConfig, crate::aws::AwsError> {
        let mut loaded = self.loaded.lock().await;
        if let Some((_, cfg)) = loaded.iter().find(|(o, _)| o == opts) {
            return Ok(cfg.clone());
        }
        let cfg = crate::aws::load(opts).await?;
        loaded.push((opts.clone(), cfg.clone()));
        Ok(cfg)
    }
}

/// What components get when they are built.
#[derive(Clone, Default)]
pub struct BuildContext {
    pub telemetry: Registry,
    pub health: Arc<Health>,
    /// Started client authenticator extensions, by ID (extensions start before
    /// exporters).
    pub authenticators: Keyed<dyn HttpAuthenticator>,
    /// One shared value per type (e.g. the Lambda Telemetry hub).
    pub slots: TypedSlots,
    /// AWS SDK configs, resolved once.
    pub aws: AwsConfigs,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct A(u32);
    #[derive(Default)]
    struct B;

    #[test]
    fn typed_slots_are_per_type_and_shared() {
        let slots = TypedSlots::default();
        let a1 = slots.get_or_default::<A>();
        let _b = slots.get_or_default::<B>();
        let a2 = slots.get_or_default::<A>();
        assert!(Arc::ptr_eq(&a1, &a2), "same type, same value");
        assert_eq!(a2.0, 0);
    }

    #[test]
    fn keyed_values_are_found_by_id() {
        let k: Keyed<str> = Keyed::default();
        let id = ComponentId::parse("sigv4auth/amp").unwrap();
        assert!(k.get(&id).is_none());
        k.publish(&id, Arc::from("x"));
        assert_eq!(k.get(&id).as_deref(), Some("x"));
        assert!(k.get(&ComponentId::parse("sigv4auth").unwrap()).is_none());
    }
}
