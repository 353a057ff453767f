//! Short-lived caches in front of the policies table. Entries live a few seconds, so a change
//! made with the CLI (a grant, a revocation) takes effect within that time everywhere.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bucketdrive_core::policy::GroupPolicy;

use crate::ports::{PolicyStore, Unavailable};

/// How long a policy, admin list or revocation time is reused. design.md allows "a few
/// seconds"; `groups add` must be effective within 5 s.
pub const POLICY_TTL: Duration = Duration::from_secs(3);

type Timed<T> = (Instant, T);

pub struct CachedPolicyStore {
    inner: Arc<dyn PolicyStore>,
    ttl: Duration,
    groups: Mutex<HashMap<String, Timed<Option<GroupPolicy>>>>,
    admins: Mutex<Option<Timed<Vec<String>>>>,
    not_before: Mutex<HashMap<String, Timed<Option<i64>>>>,
}

impl CachedPolicyStore {
    pub fn new(inner: Arc<dyn PolicyStore>, ttl: Duration) -> Self {
        CachedPolicyStore {
            inner,
            ttl,
            groups: Mutex::new(HashMap::new()),
            admins: Mutex::new(None),
            not_before: Mutex::new(HashMap::new()),
        }
    }

    fn fresh(&self, at: Instant) -> bool {
        at.elapsed() < self.ttl
    }
}

#[async_trait]
impl PolicyStore for CachedPolicyStore {
    async fn group_policies(&self, groups: &[String]) -> Result<Vec<GroupPolicy>, Unavailable> {
        let mut found = Vec::new();
        let mut missing = Vec::new();
        if let Ok(cache) = self.groups.lock() {
            for g in groups {
                match cache.get(g) {
                    Some((at, entry)) if self.fresh(*at) => found.extend(entry.clone()),
                    _ => missing.push(g.clone()),
                }
            }
        } else {
            missing = groups.to_vec();
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let fetched = self.inner.group_policies(&missing).await?;
        let now = Instant::now();
        if let Ok(mut cache) = self.groups.lock() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            for g in &missing {
                let entry = fetched.iter().find(|p| &p.group == g).cloned();
                cache.insert(g.clone(), (now, entry));
            }
        }
        found.extend(fetched);
        Ok(found)
    }

    async fn admin_groups(&self) -> Result<Vec<String>, Unavailable> {
        if let Ok(cache) = self.admins.lock()
            && let Some((at, admins)) = cache.as_ref()
            && self.fresh(*at)
        {
            return Ok(admins.clone());
        }
        let admins = self.inner.admin_groups().await?;
        if let Ok(mut cache) = self.admins.lock() {
            *cache = Some((Instant::now(), admins.clone()));
        }
        Ok(admins)
    }

    async fn not_before(&self, sub: &str) -> Result<Option<i64>, Unavailable> {
        if let Ok(cache) = self.not_before.lock()
            && let Some((at, nb)) = cache.get(sub)
            && self.fresh(*at)
        {
            return Ok(*nb);
        }
        let nb = self.inner.not_before(sub).await?;
        if let Ok(mut cache) = self.not_before.lock() {
            if cache.len() > 100_000 {
                cache.clear();
            }
            cache.insert(sub.to_owned(), (Instant::now(), nb));
        }
        Ok(nb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting(AtomicUsize);

    #[async_trait]
    impl PolicyStore for Counting {
        async fn group_policies(&self, groups: &[String]) -> Result<Vec<GroupPolicy>, Unavailable> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(groups
                .iter()
                .filter(|g| g.as_str() != "ghost")
                .map(|g| GroupPolicy {
                    group: g.clone(),
                    grants: vec![],
                    deny: vec![],
                })
                .collect())
        }
        async fn admin_groups(&self) -> Result<Vec<String>, Unavailable> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(vec!["admins".into()])
        }
        async fn not_before(&self, _: &str) -> Result<Option<i64>, Unavailable> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(None)
        }
    }

    #[tokio::test]
    async fn fetches_once_per_ttl_including_absent_groups() {
        let inner = Arc::new(Counting(AtomicUsize::new(0)));
        let cache = CachedPolicyStore::new(inner.clone(), Duration::from_secs(60));
        let groups = vec!["a".to_owned(), "ghost".to_owned()];
        assert_eq!(cache.group_policies(&groups).await.unwrap().len(), 1);
        assert_eq!(cache.group_policies(&groups).await.unwrap().len(), 1);
        cache.admin_groups().await.unwrap();
        cache.admin_groups().await.unwrap();
        assert_eq!(inner.0.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn expires_entries() {
        let inner = Arc::new(Counting(AtomicUsize::new(0)));
        let cache = CachedPolicyStore::new(inner.clone(), Duration::ZERO);
        cache.not_before("u").await.unwrap();
        cache.not_before("u").await.unwrap();
        assert_eq!(inner.0.load(Ordering::SeqCst), 2);
    }
}
