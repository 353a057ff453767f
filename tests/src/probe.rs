//! Tools for hostile and load tests: reading audit rows through the indexes (paged), invoking the
//! API function directly (the Lambda "behind any front door"), and forging tokens from a real
//! one's parts (base64url, SHA-256 and HMAC written out here: the tests need no crypto crate).

use std::collections::HashMap;

use anyhow::{Context, Result, bail};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

use crate::Emulator;
use crate::stack::Deployed;

pub type Row = HashMap<String, AttributeValue>;

/// A string attribute of an audit row ("" when absent).
pub fn attr<'a>(row: &'a Row, name: &str) -> &'a str {
    row.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .unwrap_or("")
}

/// A number attribute of an audit row.
pub fn number(row: &Row, name: &str) -> Option<i64> {
    row.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
}

/// Every audit row of one user, through the `by-user` index (no scan), following pages.
pub async fn audit_by_user(emulator: &Emulator, d: &Deployed, sub: &str) -> Result<Vec<Row>> {
    let ddb = emulator.dynamodb().await;
    let mut rows = Vec::new();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let page = ddb
            .query()
            .table_name(d.output("AuditTableName")?)
            .index_name("by-user")
            .key_condition_expression("user_sub = :u")
            .expression_attribute_values(":u", AttributeValue::S(sub.to_owned()))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .context("querying the by-user index")?;
        rows.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return Ok(rows),
        }
    }
}

/// The audit rows with this `request_id`, through the `by-day` index of today (UTC) and
/// yesterday (a request just after midnight), filtered on `request_id`: no scan.
pub async fn audit_by_request(
    emulator: &Emulator,
    d: &Deployed,
    request_id: &str,
) -> Result<Vec<Row>> {
    let ddb = emulator.dynamodb().await;
    let today = chrono::Utc::now().date_naive();
    let mut rows = Vec::new();
    for day in [today, today.pred_opt().unwrap_or(today)] {
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = ddb
                .query()
                .table_name(d.output("AuditTableName")?)
                .index_name("by-day")
                .key_condition_expression("#d = :d")
                .filter_expression("request_id = :r")
                .expression_attribute_names("#d", "day")
                .expression_attribute_values(":d", AttributeValue::S(day.to_string()))
                .expression_attribute_values(":r", AttributeValue::S(request_id.to_owned()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .context("querying the by-day index")?;
            rows.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
    }
    Ok(rows)
}

/// An API Gateway v2 (payload 2.0) event as API Gateway would send it to the function.
pub fn api_event(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    authorization: Option<&str>,
    body: Option<&str>,
    request_id: &str,
) -> Value {
    let mut headers = json!({
        "content-type": "application/json",
        "host": "direct.execute-api.localhost",
        "user-agent": "bucketdrive-hostile/1.0",
    });
    if let Some(a) = authorization {
        headers["authorization"] = json!(a);
    }
    let mut e = json!({
        "version": "2.0",
        "routeKey": "ANY /api/{proxy+}",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "direct",
            "domainName": "direct.execute-api.localhost",
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "bucketdrive-hostile/1.0"},
            "requestId": request_id,
            "routeKey": "ANY /api/{proxy+}",
            "stage": "$default",
            "time": "04/Dec/2026:16:05:50 +0000",
            "timeEpoch": chrono::Utc::now().timestamp_millis(),
        },
        "isBase64Encoded": false,
    });
    if let Some(b) = body {
        e["body"] = json!(b);
    }
    e
}

/// Invokes the stack's API function directly (Lambda `Invoke`), bypassing API Gateway and its
/// JWT authorizer: what the function itself does with a request. Returns its response
/// (`statusCode`, `body` parsed as JSON when it is JSON).
pub async fn invoke_api_function(
    emulator: &Emulator,
    d: &Deployed,
    event: &Value,
) -> Result<(i64, Value)> {
    let name = d.output("ApiFunctionName")?;
    let url = format!(
        "{}/2015-03-31/functions/{name}/invocations",
        emulator.endpoint()
    );
    let resp = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .body(event.to_string())
        .send()
        .await?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        bail!("Invoke answered {status}: {text}");
    }
    let out: Value = serde_json::from_str(&text).with_context(|| format!("not JSON: {text}"))?;
    let code = out["statusCode"]
        .as_i64()
        .with_context(|| format!("no statusCode: {out}"))?;
    let body = out["body"]
        .as_str()
        .map(|b| serde_json::from_str(b).unwrap_or(Value::String(b.to_owned())))
        .unwrap_or(Value::Null);
    Ok((code, body))
}

// ------------------------------------------------------------------------------- forging

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding.
pub fn b64url(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(B64URL[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// base64url (padding and the standard alphabet tolerated).
pub fn b64url_decode(text: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => bail!("not base64url: {c}"),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

/// A JWT's header and payload as JSON, and its signature part as text.
pub fn jwt_parts(token: &str) -> Result<(Value, Value, String)> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
        bail!("not a JWT");
    };
    Ok((
        serde_json::from_slice(&b64url_decode(h)?)?,
        serde_json::from_slice(&b64url_decode(p)?)?,
        s.to_owned(),
    ))
}

/// `header.payload` re-encoded, with `signature` appended as is.
pub fn jwt_join(header: &Value, payload: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64url(header.to_string().as_bytes()),
        b64url(payload.to_string().as_bytes())
    )
}

/// An HS256 token over `header`/`payload` with `secret` as the HMAC key (the "public key as
/// HMAC secret" confusion attack when `secret` is the RSA public key).
pub fn jwt_hs256(header: &Value, payload: &Value, secret: &[u8]) -> String {
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(payload.to_string().as_bytes())
    );
    format!(
        "{signing_input}.{}",
        b64url(&hmac_sha256(secret, signing_input.as_bytes()))
    )
}

/// The PKCS#1 PEM (`-----BEGIN RSA PUBLIC KEY-----`) of a JWK's `n` and `e`.
pub fn rsa_public_pem(n_b64url: &str, e_b64url: &str) -> Result<String> {
    fn der_len(len: usize) -> Vec<u8> {
        if len < 128 {
            vec![len as u8]
        } else {
            let bytes: Vec<u8> = len
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            let mut out = vec![0x80 | bytes.len() as u8];
            out.extend(bytes);
            out
        }
    }
    fn integer(mut v: Vec<u8>) -> Vec<u8> {
        if v.first().is_some_and(|b| b & 0x80 != 0) {
            v.insert(0, 0);
        }
        let mut out = vec![0x02];
        out.extend(der_len(v.len()));
        out.extend(v);
        out
    }
    let mut body = integer(b64url_decode(n_b64url)?);
    body.extend(integer(b64url_decode(e_b64url)?));
    let mut der = vec![0x30];
    der.extend(der_len(body.len()));
    der.extend(body);
    const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(STD[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    Ok(format!(
        "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----\n",
        lines.join("\n")
    ))
}

/// SHA-256 (FIPS 180-4), for the HMAC above.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend(((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, v) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(v);
        }
    }
    let mut out = [0u8; 32];
    for (i, v) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&v.to_be_bytes());
    }
    out
}

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&sha256(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    inner.extend_from_slice(message);
    let mut outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    outer.extend_from_slice(&sha256(&inner));
    sha256(&outer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn sha256_and_hmac_match_the_standard_vectors() {
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&sha256(&[b'a'; 1000])),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
        );
        // RFC 4231 test case 2.
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn base64url_round_trips() {
        for s in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
            assert_eq!(b64url_decode(&b64url(s.as_bytes())).unwrap(), s.as_bytes());
        }
        assert_eq!(b64url(b"\xfb\xff"), "-_8");
    }
}
