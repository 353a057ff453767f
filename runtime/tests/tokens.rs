//! Every way a token can be wrong is refused with 401 and audited as denied.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::atomic::Ordering;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bucketdrive_core::audit::{AuditAction, Basis, Outcome};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use support::*;

async fn refused(h: &Harness, token: &str, why: &str) {
    let before = h.records().len();
    let r = h.call(event("apigw-v2-get-me.json", Some(token))).await;
    assert_eq!(r.status, 401, "{why}: {}", r.body);
    assert_eq!(r.body["error"], "unauthorized", "{why}");
    assert!(r.body["request_id"].is_string());
    let records = h.records();
    assert_eq!(records.len(), before + 1, "{why}: not audited");
    let rec = records.last().unwrap();
    assert_eq!(rec.outcome, Outcome::Deny, "{why}");
    assert_eq!(rec.basis, Basis::InvalidToken, "{why}");
    assert_eq!(rec.action, AuditAction::Me);
    assert_eq!(rec.status, 401);
    assert_eq!(rec.source_ip.as_deref(), Some("203.0.113.7"));
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

#[tokio::test]
async fn a_good_token_is_accepted() {
    let h = harness();
    let r = h
        .call(event("apigw-v2-get-me.json", Some(&token(&["finance"]))))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["sub"], SUB);
    assert_eq!(r.body["groups"], json!(["finance"]));
    assert_eq!(r.body["admin"], false);
    assert_eq!(r.body["grants"].as_array().unwrap().len(), 2);
    let rec = h.last();
    assert_eq!(
        (rec.outcome, rec.basis, rec.status),
        (Outcome::Allow, Basis::Authenticated, 200)
    );
    assert_eq!(rec.user.sub.as_deref(), Some(SUB));
    assert_eq!(rec.request_id, "JKJaXmPLvHcESHA=");
}

#[tokio::test]
async fn bad_claims_are_refused() {
    let h = harness();
    let t = now().timestamp();
    let base = claims(&["finance"]);
    let cases = [
        (with(base.clone(), "exp", json!(t - 10)), "expired"),
        (with(base.clone(), "nbf", json!(t + 120)), "not yet valid"),
        (
            with(base.clone(), "iat", json!(t + 120)),
            "issued in the future",
        ),
        (
            with(
                base.clone(),
                "iss",
                json!("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_OTHER"),
            ),
            "wrong issuer",
        ),
        (
            with(base.clone(), "client_id", json!("another-client")),
            "wrong client",
        ),
        (
            with(base.clone(), "token_use", json!("id")),
            "id token where access is required",
        ),
        (
            {
                let mut c = base.clone();
                c.as_object_mut().unwrap().remove("client_id");
                c["aud"] = json!(CLIENT);
                c
            },
            "no client_id (aud instead)",
        ),
    ];
    for (claims, why) in cases {
        refused(&h, &sign(&claims), why).await;
    }
}

#[tokio::test]
async fn forged_tokens_are_refused() {
    let h = harness();
    let good = token(&["finance"]);
    let parts: Vec<&str> = good.split('.').collect();

    // alg: none, no signature.
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"test-key-1"}"#);
    refused(&h, &format!("{none_header}.{}.", parts[1]), "alg none").await;

    // HS256 "signed" with the public key material: the classic algorithm-confusion attack.
    let mut hs = Header::new(jsonwebtoken::Algorithm::HS256);
    hs.kid = Some(KID.into());
    let confused = jsonwebtoken::encode(
        &hs,
        &claims(&["finance"]),
        &EncodingKey::from_secret(key().n.as_bytes()).unwrap(),
    )
    .unwrap();
    refused(&h, &confused, "HS256 with the public key").await;

    // Unknown kid.
    let mut other = Header::new(jsonwebtoken::Algorithm::RS256);
    other.kid = Some("someone-elses-key".into());
    let unknown = jsonwebtoken::encode(
        &other,
        &claims(&["finance"]),
        &EncodingKey::from_rsa_pem(key().private_pem.as_bytes()).unwrap(),
    )
    .unwrap();
    refused(&h, &unknown, "unknown kid").await;

    // Tampered payload: more groups, original signature.
    let evil =
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(&["finance", "it-admins"])).unwrap());
    refused(
        &h,
        &format!("{}.{evil}.{}", parts[0], parts[2]),
        "tampered payload",
    )
    .await;

    refused(&h, "not-a-jwt", "garbage").await;
    refused(
        &h,
        &format!("{}.{}", parts[0], parts[1]),
        "no signature part",
    )
    .await;
}

#[tokio::test]
async fn missing_or_non_bearer_credentials_are_refused() {
    let h = harness();
    let r = h.call(event("apigw-v2-get-me.json", None)).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.raw.headers.get("www-authenticate").unwrap(), "Bearer");
    assert_eq!(h.last().basis, Basis::InvalidToken);
    let mut e = event("apigw-v2-get-me.json", None);
    e["headers"]["authorization"] = json!(format!("Basic {}", token(&["finance"])));
    assert_eq!(h.call(e).await.status, 401);
    assert_eq!(h.records().len(), 2);
}

#[tokio::test]
async fn unknown_kids_refetch_once_then_are_rate_limited() {
    let h = harness();
    assert_eq!(
        h.call(event("apigw-v2-get-me.json", Some(&token(&["finance"]))))
            .await
            .status,
        200
    );
    assert_eq!(h.keys.fetches.load(Ordering::SeqCst), 1);
    let mut other = Header::new(jsonwebtoken::Algorithm::RS256);
    let pem = EncodingKey::from_rsa_pem(key().private_pem.as_bytes()).unwrap();
    for i in 0..20 {
        other.kid = Some(format!("forged-{i}"));
        let t = jsonwebtoken::encode(&other, &claims(&["finance"]), &pem).unwrap();
        assert_eq!(
            h.call(event("apigw-v2-get-me.json", Some(&t))).await.status,
            401
        );
    }
    assert_eq!(
        h.keys.fetches.load(Ordering::SeqCst),
        2,
        "one refetch for unknown kids, then rate-limited"
    );
}

#[tokio::test]
async fn cached_keys_survive_a_jwks_outage_but_none_cached_fails_closed() {
    let h = harness();
    let t = token(&["finance"]);
    assert_eq!(
        h.call(event("apigw-v2-get-me.json", Some(&t))).await.status,
        200
    );
    h.keys.down.store(true, Ordering::SeqCst);
    // A different token (not in the verified-token cache) still verifies with the cached key.
    let t2 = sign(&with(claims(&["finance"]), "jti", json!("jti-2")));
    assert_eq!(
        h.call(event("apigw-v2-get-me.json", Some(&t2)))
            .await
            .status,
        200
    );

    let cold = harness();
    cold.keys.down.store(true, Ordering::SeqCst);
    let r = cold.call(event("apigw-v2-get-me.json", Some(&t))).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.body["error"], "unavailable");
    assert_eq!(cold.last().basis, Basis::Unavailable);
}

#[tokio::test]
async fn a_revoked_token_is_refused() {
    let t = token(&["finance"]);
    // Revocation at the token's iat: tokens issued up to and including that second are refused.
    let h2 = harness();
    h2.policies
        .not_before
        .lock()
        .unwrap()
        .insert(SUB.into(), now().timestamp() - 60);
    let r = h2.call(event("apigw-v2-get-me.json", Some(&t))).await;
    assert_eq!(r.status, 401);
    assert_eq!(h2.last().basis, Basis::Revoked);
    assert_eq!(
        h2.last().user.sub.as_deref(),
        Some(SUB),
        "the revoked caller is named in the record"
    );
    // A token issued after the revocation works.
    let fresh = sign(&with(
        claims(&["finance"]),
        "iat",
        json!(now().timestamp() - 30),
    ));
    assert_eq!(
        h2.call(event("apigw-v2-get-me.json", Some(&fresh)))
            .await
            .status,
        200
    );
}
