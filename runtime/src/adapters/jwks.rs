//! The pool's JWKS over HTTPS (or the emulator's HTTP), with a short timeout: a slow key
//! endpoint must not hold requests hostage (cached keys keep working meanwhile).

use std::time::Duration;

use async_trait::async_trait;
use jsonwebtoken::jwk::JwkSet;

use crate::ports::{KeySource, Unavailable};

pub struct HttpKeySource {
    client: reqwest::Client,
    url: String,
}

impl HttpKeySource {
    pub fn new(url: String) -> Result<Self, Unavailable> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| Unavailable::new("jwks", e))?;
        Ok(HttpKeySource { client, url })
    }
}

#[async_trait]
impl KeySource for HttpKeySource {
    async fn fetch(&self) -> Result<JwkSet, Unavailable> {
        let resp = self
            .client
            .get(&self.url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| Unavailable::new("jwks", e))?;
        resp.json::<JwkSet>()
            .await
            .map_err(|e| Unavailable::new("jwks", e))
    }
}
