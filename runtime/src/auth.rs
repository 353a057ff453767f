//! Verifying the bearer token in the Lambda itself, whatever sits in front of it.
//!
//! RS256 only, key by `kid` from the pool's JWKS (cached; one refetch for an unknown `kid`,
//! then rate-limited), then every claim checked by `core::claims`. A token already verified is
//! remembered by its SHA-256 until it expires, so the steady state costs one hash.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bucketdrive_core::claims::{AccessClaims, ClaimError, Expectations, Identity};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use sha2::{Digest, Sha256};

use crate::ports::{KeySource, Unavailable};

/// How long fetched keys are trusted before a background-free refresh on next use.
const KEYS_TTL: Duration = Duration::from_secs(3600);
/// At most one refetch for unknown `kid`s per this interval: a stream of forged `kid`s must
/// not turn into a stream of JWKS requests.
const UNKNOWN_KID_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// Bound on remembered tokens; past it, expired entries are dropped (then everything).
const TOKEN_CACHE_MAX: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token: send `Authorization: Bearer <access token>`")]
    Missing,
    #[error("the token is malformed")]
    Malformed,
    #[error("only RS256-signed tokens are accepted")]
    Algorithm,
    #[error("the token's signing key is unknown")]
    UnknownKey,
    #[error("the token's signature is invalid")]
    Signature,
    #[error("{0}")]
    Claims(#[from] ClaimError),
    #[error("the token was revoked; sign in again")]
    Revoked,
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

struct KeyState {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
    last_unknown_refetch: Option<Instant>,
}

pub struct Verifier {
    expect: Expectations,
    source: Arc<dyn KeySource>,
    keys: RwLock<KeyState>,
    tokens: Mutex<HashMap<[u8; 32], Identity>>,
    validation: Validation,
}

impl Verifier {
    pub fn new(expect: Expectations, source: Arc<dyn KeySource>) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        // jsonwebtoken checks the signature and `iss`; every time-based claim is checked by
        // core::claims against the handler's clock, so there is one notion of "now" (and one
        // skew). Cognito access tokens carry no `aud`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.set_issuer(&[expect.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        Verifier {
            expect,
            source,
            keys: RwLock::new(KeyState {
                keys: HashMap::new(),
                fetched_at: None,
                last_unknown_refetch: None,
            }),
            tokens: Mutex::new(HashMap::new()),
            validation,
        }
    }

    /// Verifies `token` at `now` (epoch seconds).
    pub async fn verify(&self, token: &str, now: i64) -> Result<Identity, AuthError> {
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(id) = self.remembered(&hash, now) {
            return Ok(id);
        }
        let header = decode_header(token).map_err(|_| AuthError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::Algorithm);
        }
        let kid = header.kid.ok_or(AuthError::UnknownKey)?;
        let key = self.key(&kid).await?;
        let data = decode::<AccessClaims>(token, &key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::InvalidSignature | K::InvalidRsaKey(_) | K::InvalidKeyFormat => {
                    AuthError::Signature
                }
                K::ExpiredSignature => AuthError::Claims(ClaimError::Expired),
                K::InvalidIssuer => AuthError::Claims(ClaimError::WrongIssuer),
                K::InvalidAlgorithm => AuthError::Algorithm,
                _ => AuthError::Malformed,
            }
        })?;
        let identity = data.claims.check(&self.expect, now)?;
        self.remember(hash, &identity, now);
        Ok(identity)
    }

    fn remembered(&self, hash: &[u8; 32], now: i64) -> Option<Identity> {
        let tokens = self.tokens.lock().ok()?;
        let id = tokens.get(hash)?;
        (now < id.expires_at.saturating_add(self.expect.skew_secs)).then(|| id.clone())
    }

    fn remember(&self, hash: [u8; 32], identity: &Identity, now: i64) {
        if let Ok(mut tokens) = self.tokens.lock() {
            if tokens.len() >= TOKEN_CACHE_MAX {
                tokens.retain(|_, id| id.expires_at > now);
                if tokens.len() >= TOKEN_CACHE_MAX {
                    tokens.clear();
                }
            }
            tokens.insert(hash, identity.clone());
        }
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        let (cached, fresh, may_refetch) = {
            let state = self.keys.read().map_err(|_| AuthError::UnknownKey)?;
            let fresh = state.fetched_at.is_some_and(|t| t.elapsed() < KEYS_TTL);
            let may_refetch = state
                .last_unknown_refetch
                .is_none_or(|t| t.elapsed() >= UNKNOWN_KID_REFETCH_INTERVAL);
            (state.keys.get(kid).cloned(), fresh, may_refetch)
        };
        match cached {
            Some(key) if fresh => return Ok(key),
            Some(key) => {
                // Stale but known: refresh, and keep using the old keys if the JWKS is down.
                return Ok(match self.refresh(false).await {
                    Ok(()) => self.lookup(kid).unwrap_or(key),
                    Err(_) => key,
                });
            }
            None => {}
        }
        let never_fetched = self
            .keys
            .read()
            .map(|s| s.fetched_at.is_none())
            .unwrap_or(true);
        if never_fetched || may_refetch {
            self.refresh(!never_fetched).await?;
        }
        self.lookup(kid).ok_or(AuthError::UnknownKey)
    }

    fn lookup(&self, kid: &str) -> Option<DecodingKey> {
        self.keys.read().ok()?.keys.get(kid).cloned()
    }

    async fn refresh(&self, for_unknown_kid: bool) -> Result<(), Unavailable> {
        if for_unknown_kid && let Ok(mut state) = self.keys.write() {
            state.last_unknown_refetch = Some(Instant::now());
        }
        let set = self.source.fetch().await?;
        let keys: HashMap<String, DecodingKey> = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                DecodingKey::from_jwk(jwk).ok().map(|k| (kid, k))
            })
            .collect();
        if let Ok(mut state) = self.keys.write() {
            state.keys = keys;
            state.fetched_at = Some(Instant::now());
        }
        Ok(())
    }
}

/// The bearer token of an `Authorization` header value.
pub fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
    let value = header.ok_or(AuthError::Missing)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Missing);
    }
    let token = token.trim();
    if token.is_empty() || token.len() > 16 * 1024 {
        return Err(AuthError::Malformed);
    }
    Ok(token)
}
