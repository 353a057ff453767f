//! The claims of a Cognito access token and the checks BucketDrive makes on them after the
//! signature has been verified (that part needs crypto and lives in the runtime).
//!
//! Known traps (design.md): `jsonwebtoken` checks neither `token_use` nor `client_id`, accepts a
//! token without `aud` even with an audience set, and allows 60 s of leeway by default. An ID
//! token from the same pool passes API Gateway's JWT authorizer. So every claim that matters is
//! checked here, explicitly, with a small skew.

use serde::Deserialize;

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const DEFAULT_SKEW_SECS: i64 = 5;

/// The claims BucketDrive reads from a Cognito access token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AccessClaims {
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default)]
    pub iss: Option<String>,
    #[serde(default)]
    pub token_use: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub exp: Option<i64>,
    #[serde(default)]
    pub iat: Option<i64>,
    #[serde(default)]
    pub nbf: Option<i64>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default, rename = "cognito:groups")]
    pub groups: Vec<String>,
    /// Groups mapped from a federated user's identity-provider groups by BucketDrive's
    /// pre-token trigger (only that trigger can put claims into a pool-signed token).
    #[serde(default, rename = "bucketdrive:groups")]
    pub mapped_groups: Vec<String>,
    #[serde(default)]
    pub jti: Option<String>,
}

/// What a token must say to be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectations {
    pub issuer: String,
    pub client_id: String,
    pub skew_secs: i64,
}

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub sub: String,
    pub username: String,
    pub groups: Vec<String>,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// Why a token's claims were refused. Messages are safe to return to the caller: they say what
/// was wrong, never what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    #[error("the token was not issued by this deployment's user pool")]
    WrongIssuer,
    #[error("an access token is required (got a token with token_use `{0}`)")]
    WrongTokenUse(String),
    #[error("the token has no token_use claim")]
    MissingTokenUse,
    #[error("the token was issued to another client")]
    WrongClient,
    #[error("the token has no client_id claim")]
    MissingClient,
    #[error("the token has no exp claim")]
    MissingExpiry,
    #[error("the token has no iat claim")]
    MissingIssuedAt,
    #[error("the token has no sub claim")]
    MissingSubject,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token claims to be issued in the future")]
    IssuedInFuture,
}

impl AccessClaims {
    /// Checks every claim against `expect` at `now` (epoch seconds).
    pub fn check(&self, expect: &Expectations, now: i64) -> Result<Identity, ClaimError> {
        if self.iss.as_deref() != Some(expect.issuer.as_str()) {
            return Err(ClaimError::WrongIssuer);
        }
        match self.token_use.as_deref() {
            Some("access") => {}
            Some(other) => return Err(ClaimError::WrongTokenUse(other.chars().take(32).collect())),
            None => return Err(ClaimError::MissingTokenUse),
        }
        match self.client_id.as_deref() {
            Some(c) if c == expect.client_id => {}
            Some(_) => return Err(ClaimError::WrongClient),
            None => return Err(ClaimError::MissingClient),
        }
        let exp = self.exp.ok_or(ClaimError::MissingExpiry)?;
        if now >= exp.saturating_add(expect.skew_secs) {
            return Err(ClaimError::Expired);
        }
        if let Some(nbf) = self.nbf
            && now.saturating_add(expect.skew_secs) < nbf
        {
            return Err(ClaimError::NotYetValid);
        }
        let iat = self.iat.ok_or(ClaimError::MissingIssuedAt)?;
        if now.saturating_add(expect.skew_secs) < iat {
            return Err(ClaimError::IssuedInFuture);
        }
        let sub = self
            .sub
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or(ClaimError::MissingSubject)?;
        let mut groups = self.groups.clone();
        for g in &self.mapped_groups {
            if !groups.contains(g) {
                groups.push(g.clone());
            }
        }
        Ok(Identity {
            username: self.username.clone().unwrap_or_else(|| sub.clone()),
            sub,
            groups,
            issued_at: iat,
            expires_at: exp,
        })
    }
}

/// Revocation: a token issued before the user's not-before time is refused. Tokens issued in
/// the same second as the revocation are refused too (iat has second precision).
pub fn is_revoked(issued_at: i64, not_before: Option<i64>) -> bool {
    not_before.is_some_and(|nb| issued_at <= nb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect() -> Expectations {
        Expectations {
            issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc".into(),
            client_id: "client-1".into(),
            skew_secs: 5,
        }
    }

    fn good() -> AccessClaims {
        AccessClaims {
            sub: Some("u-1".into()),
            iss: Some(expect().issuer),
            token_use: Some("access".into()),
            client_id: Some("client-1".into()),
            exp: Some(2000),
            iat: Some(1000),
            nbf: None,
            username: Some("ana".into()),
            groups: vec!["finance".into()],
            mapped_groups: vec![],
            jti: None,
        }
    }

    #[test]
    fn a_good_token_yields_an_identity() {
        let id = good().check(&expect(), 1500).unwrap();
        assert_eq!(id.sub, "u-1");
        assert_eq!(id.groups, vec!["finance".to_owned()]);
    }

    #[test]
    fn each_claim_is_checked() {
        type Mutation = Box<dyn Fn(&mut AccessClaims)>;
        let cases: Vec<(Mutation, ClaimError)> = vec![
            (
                Box::new(|c| c.iss = Some("https://evil".into())),
                ClaimError::WrongIssuer,
            ),
            (Box::new(|c| c.iss = None), ClaimError::WrongIssuer),
            (
                Box::new(|c| c.token_use = Some("id".into())),
                ClaimError::WrongTokenUse("id".into()),
            ),
            (
                Box::new(|c| c.token_use = None),
                ClaimError::MissingTokenUse,
            ),
            (
                Box::new(|c| c.client_id = Some("other".into())),
                ClaimError::WrongClient,
            ),
            (Box::new(|c| c.client_id = None), ClaimError::MissingClient),
            (Box::new(|c| c.exp = None), ClaimError::MissingExpiry),
            (Box::new(|c| c.exp = Some(1495)), ClaimError::Expired),
            (Box::new(|c| c.nbf = Some(1506)), ClaimError::NotYetValid),
            (Box::new(|c| c.iat = Some(1506)), ClaimError::IssuedInFuture),
            (Box::new(|c| c.iat = None), ClaimError::MissingIssuedAt),
            (
                Box::new(|c| c.sub = Some(String::new())),
                ClaimError::MissingSubject,
            ),
        ];
        for (mutate, expected) in cases {
            let mut c = good();
            mutate(&mut c);
            assert_eq!(c.check(&expect(), 1500), Err(expected));
        }
    }

    #[test]
    fn skew_is_small_and_symmetric() {
        let mut c = good();
        c.exp = Some(1497);
        assert!(c.check(&expect(), 1500).is_ok(), "within 5 s after exp");
        c.exp = Some(1495);
        assert_eq!(c.check(&expect(), 1500), Err(ClaimError::Expired));
        let mut c = good();
        c.nbf = Some(1504);
        assert!(c.check(&expect(), 1500).is_ok());
    }

    #[test]
    fn revocation_refuses_tokens_issued_up_to_the_not_before_second() {
        assert!(is_revoked(1000, Some(1000)));
        assert!(is_revoked(999, Some(1000)));
        assert!(!is_revoked(1001, Some(1000)));
        assert!(!is_revoked(1000, None));
    }

    #[test]
    fn groups_mapped_by_the_trigger_join_the_pools_groups() {
        let mut c = good();
        c.mapped_groups = vec!["finance".into(), "auditors".into()];
        let id = c.check(&expect(), 1500).unwrap();
        assert_eq!(id.groups, vec!["finance".to_owned(), "auditors".to_owned()]);
    }

    #[test]
    fn cognito_groups_parse_from_the_json_array() {
        let json = r#"{"sub":"s","iss":"i","token_use":"access","client_id":"c","exp":2,"iat":1,"cognito:groups":["a","b"]}"#;
        let c: AccessClaims = serde_json::from_str(json).unwrap();
        assert_eq!(c.groups, vec!["a".to_owned(), "b".to_owned()]);
    }
}
