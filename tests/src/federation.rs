//! Federation on the emulator: a fake identity provider that speaks OpenID Connect and SAML 2.0
//! on 127.0.0.1, a browser that walks the hosted UI's redirects one hop at a time, and the steps
//! that give a deployed pool the identity providers its template declares.
//!
//! ```text
//! browser ── GET /oauth2/authorize?identity_provider=X ─▶ emulator ── 302 ─▶ fake IdP
//! fake IdP ── 302 (OIDC code) or auto-post form (SAML) ─▶ emulator /oauth2|saml2/idpresponse
//! emulator ── POST /token (OIDC: code → id_token) ─▶ fake IdP
//! emulator ── 302 <AppUrl>?code&state ─▶ browser ── POST /oauth2/token (PKCE) ─▶ tokens
//! ```
//!
//! The IdP signs its ID tokens with RS256 and publishes the key (`/jwks`) and its discovery
//! document, like a real one, although MiniStack 1.5.33 does not verify them. Users sign in at
//! the IdP by `login_hint` (an OpenID Connect authorize parameter; the SAML endpoint takes it
//! too), so tests running at once never sign in as each other.
//!
//! The server runs on a thread of its own with its own runtime: it outlives the test that
//! started it, so tests with their own runtimes may share it. Dropping [`FakeIdp`] stops it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_cognitoidentityprovider::Client as Cognito;
use aws_sdk_cognitoidentityprovider::types::{IdentityProviderTypeType, UserPoolClientType};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::Rng;
use rand::distributions::Alphanumeric;
use reqwest::Url;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::Emulator;
use crate::stack::{Deployed, bucketdrive, encode};

/// A random string of letters and digits.
pub fn random_token(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Someone who can sign in at the fake IdP.
#[derive(Debug, Clone)]
pub struct IdpUser {
    /// What the browser passes as `login_hint`.
    pub login: String,
    /// OIDC `sub`; SAML `NameID`.
    pub subject: String,
    pub email: String,
    /// OIDC: further ID-token claims (e.g. the groups claim).
    pub claims: Map<String, Value>,
    /// SAML: attributes, each with its values in order (e.g. the groups attribute).
    pub saml_attributes: Vec<(String, Vec<String>)>,
}

/// The service provider the IdP's SAML responses are for (Cognito's ACS URL and entity id).
#[derive(Debug, Clone)]
pub struct SamlServiceProvider {
    pub acs_url: String,
    pub audience: String,
}

struct Code {
    login: String,
    redirect_uri: String,
    nonce: Option<String>,
}

struct IdpState {
    issuer: String,
    client_id: String,
    client_secret: String,
    kid: String,
    signing_key: jsonwebtoken::EncodingKey,
    jwk: Value,
    users: HashMap<String, IdpUser>,
    codes: HashMap<String, Code>,
    access_tokens: HashMap<String, String>,
    saml_sp: Option<SamlServiceProvider>,
    log: Vec<String>,
}

/// The fake identity provider. See the module documentation.
pub struct FakeIdp {
    issuer: String,
    client_id: String,
    client_secret: String,
    state: Arc<Mutex<IdpState>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl std::fmt::Debug for FakeIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeIdp")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeIdp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn lock(state: &Mutex<IdpState>) -> MutexGuard<'_, IdpState> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FakeIdp {
    /// Starts an IdP on a free port of 127.0.0.1 with one registered OIDC client.
    pub fn start(client_id: &str, client_secret: &str) -> Result<FakeIdp> {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::traits::PublicKeyParts;

        let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
            .context("cannot generate the IdP's RSA key")?;
        let public = private.to_public_key();
        let pem = private
            .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .context("cannot encode the IdP's key")?;
        let signing_key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes())?;
        let kid = format!("fake-idp-{}", random_token(8));
        let jwk = json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        });

        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let issuer = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Mutex::new(IdpState {
            issuer: issuer.clone(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            kid,
            signing_key,
            jwk,
            users: HashMap::new(),
            codes: HashMap::new(),
            access_tokens: HashMap::new(),
            saml_sp: None,
            log: Vec::new(),
        }));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let server_state = Arc::clone(&state);
        std::thread::Builder::new()
            .name("fake-idp".into())
            .spawn(move || {
                runtime.block_on(async move {
                    if let Ok(listener) = TcpListener::from_std(listener) {
                        serve(listener, server_state, stop_rx).await;
                    }
                });
            })?;
        Ok(FakeIdp {
            issuer,
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            state,
            stop: Some(stop_tx),
        })
    }

    /// `http://127.0.0.1:<port>`: the issuer and the base of every endpoint.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The registered client's secret (what the pool's `ProviderDetails.client_secret` holds).
    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    /// Adds (or replaces) a user who can sign in.
    pub fn add_user(&self, user: IdpUser) {
        lock(&self.state).users.insert(user.login.clone(), user);
    }

    /// Where SAML responses go (the IdP's configuration of the service provider).
    pub fn set_saml_service_provider(&self, sp: SamlServiceProvider) {
        lock(&self.state).saml_sp = Some(sp);
    }

    /// Every request the IdP answered: `METHOD /path -> status`, in order.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.state).log.clone()
    }

    /// The endpoints as Cognito's OIDC `ProviderDetails` name them (all but the client keys).
    pub fn oidc_endpoints(&self) -> BTreeMap<String, String> {
        let i = &self.issuer;
        BTreeMap::from([
            ("oidc_issuer".to_owned(), i.clone()),
            ("authorize_url".to_owned(), format!("{i}/authorize")),
            ("token_url".to_owned(), format!("{i}/token")),
            ("attributes_url".to_owned(), format!("{i}/userinfo")),
            ("jwks_uri".to_owned(), format!("{i}/jwks")),
        ])
    }

    /// The IdP's SAML entity id.
    pub fn saml_entity_id(&self) -> String {
        format!("{}/saml", self.issuer)
    }

    /// SAML metadata naming the IdP's single sign-on endpoint (HTTP-Redirect binding), for a
    /// provider's `MetadataFile`. Unsigned and without a signing certificate: the emulator
    /// verifies no signatures (AWS would refuse this metadata).
    pub fn saml_metadata(&self) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}"><md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso}"/><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{sso}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
            entity = xml_escape(&self.saml_entity_id()),
            sso = xml_escape(&format!("{}/saml/sso", self.issuer)),
        )
    }
}

// ------------------------------------------------------------------ the IdP's HTTP server

struct Request {
    method: String,
    path: String,
    query: HashMap<String, String>,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Request {
    fn form(&self) -> HashMap<String, String> {
        parse_pairs(&String::from_utf8_lossy(&self.body))
    }
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }

    fn json(status: u16, body: &Value) -> Response {
        Response::new(status, "application/json", body.to_string())
    }

    fn text(status: u16, body: &str) -> Response {
        Response::new(status, "text/plain; charset=utf-8", body)
    }

    fn redirect(location: &str) -> Response {
        let mut r = Response::text(302, "");
        r.headers.push(("Location".into(), location.into()));
        r
    }

    fn bytes(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            302 => "Found",
            400 => "Bad Request",
            401 => "Unauthorized",
            404 => "Not Found",
            _ => "Status",
        };
        let mut head = format!("HTTP/1.1 {} {reason}\r\n", self.status);
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!(
            "Content-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
            self.body.len()
        ));
        let mut out = head.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

fn parse_pairs(text: &str) -> HashMap<String, String> {
    match Url::parse(&format!("http://x/?{text}")) {
        Ok(url) => url.query_pairs().into_owned().collect(),
        Err(_) => HashMap::new(),
    }
}

/// `application/x-www-form-urlencoded` for `pairs` (every byte but the unreserved ones
/// percent-encoded, which every form decoder reads).
pub fn form_encode<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k.as_ref()), encode(v.as_ref())))
        .collect::<Vec<_>>()
        .join("&")
}

async fn serve(
    listener: TcpListener,
    state: Arc<Mutex<IdpState>>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    let state = Arc::clone(&state);
                    tokio::spawn(async move {
                        let _ = connection(stream, state).await;
                    });
                }
            }
        }
    }
}

async fn connection(mut stream: TcpStream, state: Arc<Mutex<IdpState>>) -> Result<()> {
    let request = tokio::time::timeout(Duration::from_secs(10), read_request(&mut stream))
        .await
        .map_err(|_| anyhow!("the client sent no complete request in 10 s"))??;
    let response = {
        let mut s = lock(&state);
        let response = route(&mut s, &request);
        let entry = format!("{} {} -> {}", request.method, request.path, response.status);
        s.log.push(entry);
        response
    };
    stream.write_all(&response.bytes()).await?;
    stream.shutdown().await?;
    Ok(())
}

async fn read_request(stream: &mut TcpStream) -> Result<Request> {
    const MAX: usize = 1 << 20;
    let mut buf = Vec::new();
    let mut chunk = [0_u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 || buf.len() > MAX {
            bail!("connection closed before the end of the request head");
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if length > MAX {
        bail!("request body too large");
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed in the request body");
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), parse_pairs(q)),
        None => (target.clone(), HashMap::new()),
    };
    Ok(Request {
        method,
        path,
        query,
        headers,
        body,
    })
}

fn route(s: &mut IdpState, r: &Request) -> Response {
    match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/.well-known/openid-configuration") => {
            let i = &s.issuer;
            Response::json(
                200,
                &json!({
                    "issuer": i,
                    "authorization_endpoint": format!("{i}/authorize"),
                    "token_endpoint": format!("{i}/token"),
                    "userinfo_endpoint": format!("{i}/userinfo"),
                    "jwks_uri": format!("{i}/jwks"),
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                }),
            )
        }
        ("GET", "/jwks") => Response::json(200, &json!({ "keys": [s.jwk] })),
        ("GET", "/authorize") => authorize(s, r),
        ("POST", "/token") => token(s, r),
        ("GET" | "POST", "/userinfo") => userinfo(s, r),
        ("GET", "/saml/sso") => saml_sso(s, r),
        _ => Response::text(404, "not found"),
    }
}

fn authorize(s: &mut IdpState, r: &Request) -> Response {
    let q = &r.query;
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    if get("response_type") != "code" {
        return Response::text(400, "unsupported response_type");
    }
    if get("client_id") != s.client_id {
        return Response::text(400, "unknown client_id");
    }
    let redirect_uri = get("redirect_uri");
    if Url::parse(redirect_uri).is_err() {
        return Response::text(400, "redirect_uri is not a URL");
    }
    if !get("scope").split(' ').any(|x| x == "openid") {
        return Response::text(400, "scope must include openid");
    }
    let Some(user) = s.users.get(get("login_hint")) else {
        return Response::text(400, "no such user (pass login_hint)");
    };
    let code = random_token(32);
    s.codes.insert(
        code.clone(),
        Code {
            login: user.login.clone(),
            redirect_uri: redirect_uri.to_owned(),
            nonce: q.get("nonce").cloned(),
        },
    );
    let mut back = match Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => return Response::text(400, "redirect_uri is not a URL"),
    };
    back.query_pairs_mut().append_pair("code", &code);
    if let Some(state) = q.get("state") {
        back.query_pairs_mut().append_pair("state", state);
    }
    Response::redirect(back.as_str())
}

fn client_credentials(r: &Request, form: &HashMap<String, String>) -> (String, String) {
    if let Some(basic) = r
        .headers
        .get("authorization")
        .and_then(|v| v.strip_prefix("Basic "))
        && let Ok(decoded) = STANDARD.decode(basic.trim())
        && let Some((id, secret)) = String::from_utf8_lossy(&decoded).split_once(':')
    {
        let decode = |x: &str| {
            parse_pairs(&format!("v={x}"))
                .remove("v")
                .unwrap_or_default()
        };
        return (decode(id), decode(secret));
    }
    (
        form.get("client_id").cloned().unwrap_or_default(),
        form.get("client_secret").cloned().unwrap_or_default(),
    )
}

fn token(s: &mut IdpState, r: &Request) -> Response {
    let form = r.form();
    let (id, secret) = client_credentials(r, &form);
    if id != s.client_id || secret != s.client_secret {
        return Response::json(401, &json!({"error": "invalid_client"}));
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return Response::json(400, &json!({"error": "unsupported_grant_type"}));
    }
    let Some(code) = form.get("code").and_then(|c| s.codes.remove(c)) else {
        return Response::json(
            400,
            &json!({"error": "invalid_grant", "error_description": "unknown or used code"}),
        );
    };
    if form.get("redirect_uri") != Some(&code.redirect_uri) {
        return Response::json(
            400,
            &json!({"error": "invalid_grant", "error_description": "redirect_uri differs from the authorize request's"}),
        );
    }
    let Some(user) = s.users.get(&code.login).cloned() else {
        return Response::json(400, &json!({"error": "invalid_grant"}));
    };
    let now = now_secs();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(s.issuer));
    claims.insert("sub".into(), json!(user.subject));
    claims.insert("aud".into(), json!(s.client_id));
    claims.insert("iat".into(), json!(now));
    claims.insert("auth_time".into(), json!(now));
    claims.insert("exp".into(), json!(now + 300));
    claims.insert("email".into(), json!(user.email));
    claims.insert("email_verified".into(), json!(true));
    if let Some(nonce) = code.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    for (k, v) in &user.claims {
        claims.insert(k.clone(), v.clone());
    }
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(s.kid.clone());
    let id_token = match jsonwebtoken::encode(&header, &claims, &s.signing_key) {
        Ok(t) => t,
        Err(e) => return Response::json(500, &json!({"error": e.to_string()})),
    };
    let access_token = random_token(40);
    s.access_tokens
        .insert(access_token.clone(), user.login.clone());
    Response::json(
        200,
        &json!({
            "access_token": access_token,
            "id_token": id_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "openid email profile",
        }),
    )
}

fn userinfo(s: &mut IdpState, r: &Request) -> Response {
    let token = r
        .headers
        .get("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let Some(user) = s
        .access_tokens
        .get(token)
        .and_then(|login| s.users.get(login))
    else {
        return Response::json(401, &json!({"error": "invalid_token"}));
    };
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.subject));
    claims.insert("email".into(), json!(user.email));
    claims.insert("email_verified".into(), json!(true));
    for (k, v) in &user.claims {
        claims.insert(k.clone(), v.clone());
    }
    Response::json(200, &Value::Object(claims))
}

/// SAML HTTP-Redirect binding in, HTTP-POST binding out: the page a browser auto-submits.
fn saml_sso(s: &mut IdpState, r: &Request) -> Response {
    if !r.query.contains_key("SAMLRequest") {
        return Response::text(400, "no SAMLRequest");
    }
    let Some(sp) = s.saml_sp.clone() else {
        return Response::text(400, "no service provider configured");
    };
    let Some(user) = r
        .query
        .get("login_hint")
        .and_then(|l| s.users.get(l))
        .cloned()
    else {
        return Response::text(400, "no such user (pass login_hint)");
    };
    let xml = saml_response(&s.issuer, &sp, &user);
    let relay = r.query.get("RelayState").cloned().unwrap_or_default();
    let html = format!(
        r#"<!DOCTYPE html><html><body onload="document.forms[0].submit()"><form method="post" action="{action}"><input type="hidden" name="SAMLResponse" value="{response}"/><input type="hidden" name="RelayState" value="{relay}"/><noscript><button type="submit">Continue</button></noscript></form></body></html>"#,
        action = xml_escape(&sp.acs_url),
        response = xml_escape(&STANDARD.encode(xml)),
        relay = xml_escape(&relay),
    );
    Response::new(200, "text/html; charset=utf-8", html)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn xml_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// An unsigned SAML 2.0 Response with one assertion for `user`.
fn saml_response(issuer: &str, sp: &SamlServiceProvider, user: &IdpUser) -> String {
    let now = chrono::Utc::now();
    let instant = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let until = (now + chrono::Duration::minutes(5))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let mut attributes = String::new();
    for (name, values) in &user.saml_attributes {
        attributes.push_str(&format!(
            r#"<saml:Attribute Name="{}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">"#,
            xml_escape(name)
        ));
        for v in values {
            attributes.push_str(&format!(
                r#"<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">{}</saml:AttributeValue>"#,
                xml_escape(v)
            ));
        }
        attributes.push_str("</saml:Attribute>");
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_{rid}" Version="2.0" IssueInstant="{instant}" Destination="{acs}"><saml:Issuer>{entity}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="_{aid}" Version="2.0" IssueInstant="{instant}"><saml:Issuer>{entity}</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name_id}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{until}" Recipient="{acs}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{instant}" NotOnOrAfter="{until}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{instant}" SessionIndex="_{sid}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{attributes}</saml:AttributeStatement></saml:Assertion></samlp:Response>"#,
        rid = random_token(24),
        aid = random_token(24),
        sid = random_token(24),
        acs = xml_escape(&sp.acs_url),
        entity = xml_escape(&format!("{issuer}/saml")),
        name_id = xml_escape(&user.subject),
        audience = xml_escape(&sp.audience),
    )
}

// ------------------------------------------------------------------ the browser

/// One answer, redirects not followed.
#[derive(Debug, Clone)]
pub struct Page {
    /// The URL asked for (before mapping onto the emulator).
    pub url: String,
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

/// A form in a page (the IdP's auto-post form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub action: String,
    pub fields: Vec<(String, String)>,
}

impl Page {
    /// The first `<form>` with its hidden fields (as the fake IdP writes them).
    pub fn form(&self) -> Option<Form> {
        let b = &self.body;
        let start = b.find("<form")?;
        let end = start + b[start..].find("</form>")?;
        let form = &b[start..end];
        let action = attr(form, "action")?;
        let mut fields = Vec::new();
        let mut rest = form;
        while let Some(i) = rest.find("<input") {
            rest = &rest[i..];
            let tag_end = rest.find('>').unwrap_or(rest.len());
            let tag = &rest[..tag_end];
            if let (Some(n), Some(v)) = (attr(tag, "name"), attr(tag, "value")) {
                fields.push((n, v));
            }
            rest = &rest[tag_end..];
        }
        Some(Form { action, fields })
    }
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let i = tag.find(&key)? + key.len();
    let j = tag[i..].find('"')? + i;
    Some(xml_unescape(&tag[i..j]))
}

/// A browser without cookies that follows nothing by itself. Cognito's own domain
/// (`https://<prefix>.auth.<region>.amazoncognito.com`, which federation redirects name) is
/// served by the emulator on any host, so such URLs are sent to the emulator.
#[derive(Debug, Clone)]
pub struct Browser {
    client: reqwest::Client,
    emulator: String,
}

impl Browser {
    pub fn new(emulator: &Emulator) -> Result<Browser> {
        Ok(Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .build()?,
            emulator: emulator.endpoint().to_owned(),
        })
    }

    /// Where a URL is really fetched.
    pub fn target(&self, url: &str) -> Result<String> {
        let parsed = Url::parse(url).with_context(|| format!("`{url}` is not a URL"))?;
        let host = parsed.host_str().unwrap_or_default();
        if host.ends_with(".amazoncognito.com") {
            let mut out = format!("{}{}", self.emulator, parsed.path());
            if let Some(q) = parsed.query() {
                out.push('?');
                out.push_str(q);
            }
            return Ok(out);
        }
        Ok(url.to_owned())
    }

    pub async fn get(&self, url: &str) -> Result<Page> {
        let resp = self.client.get(self.target(url)?).send().await?;
        page(url, resp).await
    }

    pub async fn post_form<K: AsRef<str>, V: AsRef<str>>(
        &self,
        url: &str,
        pairs: &[(K, V)],
    ) -> Result<Page> {
        let resp = self
            .client
            .post(self.target(url)?)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_encode(pairs))
            .send()
            .await?;
        page(url, resp).await
    }
}

async fn page(url: &str, resp: reqwest::Response) -> Result<Page> {
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = resp.text().await?;
    Ok(Page {
        url: url.to_owned(),
        status,
        location,
        body,
    })
}

/// A PKCE verifier and its S256 challenge.
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Pkce {
        let verifier = random_token(64);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Pkce {
            verifier,
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Pkce::new()
    }
}

/// The payload of a JWT, not verified (the API verifies; tests only read).
pub fn jwt_claims(token: &str) -> Result<Value> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| anyhow!("not a JWT"))?;
    Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload)?)?)
}

/// Tokens from the hosted UI, and the way there.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub access_token: String,
    pub id_token: String,
    /// Every page the browser went through, in order.
    pub hops: Vec<Page>,
}

/// Signs `login` in through the hosted UI with `provider`, as a browser and the web app do:
/// authorize with PKCE → the IdP (OIDC: a redirect with a code; SAML: an auto-post form) → the
/// emulator's `idpresponse` → the app's callback with a code → `/oauth2/token`.
pub async fn federated_sign_in(
    d: &Deployed,
    browser: &Browser,
    provider: &str,
    login: &str,
) -> Result<SignIn> {
    let app_url = d.output("AppUrl")?.to_owned();
    let client_id = d.output("UserPoolClientId")?.to_owned();
    let pkce = Pkce::new();
    let state = random_token(24);
    let mut authorize = Url::parse(&format!("{}/oauth2/authorize", d.endpoint))?;
    authorize
        .query_pairs_mut()
        .append_pair("client_id", &client_id)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", &app_url)
        .append_pair("scope", "openid email profile")
        .append_pair("state", &state)
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("identity_provider", provider);
    let mut hops = Vec::new();
    let first = browser.get(authorize.as_str()).await?;
    let to_idp = first
        .location
        .clone()
        .ok_or_else(|| anyhow!("authorize did not redirect to the IdP: {first:?}"))?;
    hops.push(first);
    // At the IdP: the user signs in.
    let mut at_idp = Url::parse(&to_idp)?;
    at_idp.query_pairs_mut().append_pair("login_hint", login);
    let mut current = browser.get(at_idp.as_str()).await?;
    let callback = loop {
        let location = current.location.clone();
        let next = match (location, current.form()) {
            (Some(loc), _) if loc.starts_with(&app_url) => break loc,
            (Some(loc), _) if (300..400).contains(&current.status) => {
                hops.push(current);
                browser.get(&loc).await?
            }
            (None, Some(form)) if current.status == 200 => {
                hops.push(current);
                browser.post_form(&form.action, &form.fields).await?
            }
            _ => bail!("the sign-in stopped at {current:?}\nafter {hops:#?}"),
        };
        if hops.len() > 10 {
            bail!("too many hops: {hops:#?}");
        }
        current = next;
    };
    hops.push(current);
    let back = Url::parse(&callback)?;
    let params: HashMap<String, String> = back.query_pairs().into_owned().collect();
    if params.get("state") != Some(&state) {
        bail!("the app's callback has another state: {callback}");
    }
    let code = params
        .get("code")
        .ok_or_else(|| anyhow!("no code in the app's callback: {callback}"))?;
    let token = browser
        .post_form(
            &format!("{}/oauth2/token", d.endpoint),
            &[
                ("grant_type", "authorization_code"),
                ("client_id", client_id.as_str()),
                ("code", code.as_str()),
                ("redirect_uri", app_url.as_str()),
                ("code_verifier", pkce.verifier.as_str()),
            ],
        )
        .await?;
    if token.status != 200 {
        bail!("/oauth2/token answered {}: {}", token.status, token.body);
    }
    let tokens: Value = serde_json::from_str(&token.body)?;
    let get = |k: &str| {
        tokens[k]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no {k} in {tokens}"))
    };
    Ok(SignIn {
        access_token: get("access_token")?,
        id_token: get("id_token")?,
        hops,
    })
}

// ------------------------------------------------------------------ the pool's providers

/// An identity provider as the rendered stack template declares it.
#[derive(Debug, Clone)]
pub struct TemplateProvider {
    pub logical_id: String,
    pub name: String,
    pub provider_type: String,
    pub details: BTreeMap<String, String>,
    pub attribute_mapping: BTreeMap<String, String>,
}

/// The `AWS::Cognito::UserPoolIdentityProvider` resources of the template `bucketdrive template
/// render` writes for the deployed config.
pub fn template_providers(emulator: &Emulator, d: &Deployed) -> Result<Vec<TemplateProvider>> {
    let config = d.config_path.to_string_lossy().into_owned();
    let (code, stdout, stderr) = bucketdrive(
        emulator,
        &["template", "render", "-c", &config, "--output", "json"],
    )?;
    if code != 0 {
        bail!("template render exited {code}: {stderr}");
    }
    let out: Value = serde_json::from_str(&stdout)?;
    let body = out["body"]
        .as_str()
        .ok_or_else(|| anyhow!("no template body in {stdout}"))?;
    let template: Value = serde_yaml_ng::from_str(body)?;
    let strings = |v: &Value| -> BTreeMap<String, String> {
        v.as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut providers = Vec::new();
    for (id, r) in template["Resources"].as_object().into_iter().flatten() {
        if r["Type"] != "AWS::Cognito::UserPoolIdentityProvider" {
            continue;
        }
        let p = &r["Properties"];
        providers.push(TemplateProvider {
            logical_id: id.clone(),
            name: p["ProviderName"].as_str().unwrap_or_default().to_owned(),
            provider_type: p["ProviderType"].as_str().unwrap_or_default().to_owned(),
            details: strings(&p["ProviderDetails"]),
            attribute_mapping: strings(&p["AttributeMapping"]),
        });
    }
    Ok(providers)
}

/// Creates `provider` in the deployed pool, as the template would have, with `details` in place
/// of the template's `ProviderDetails`.
pub async fn create_provider(
    cognito: &Cognito,
    pool: &str,
    provider: &TemplateProvider,
    details: &BTreeMap<String, String>,
) -> Result<()> {
    cognito
        .create_identity_provider()
        .user_pool_id(pool)
        .provider_name(&provider.name)
        .provider_type(IdentityProviderTypeType::from(
            provider.provider_type.as_str(),
        ))
        .set_provider_details(Some(details.clone().into_iter().collect()))
        .set_attribute_mapping(Some(
            provider.attribute_mapping.clone().into_iter().collect(),
        ))
        .send()
        .await
        .with_context(|| format!("CreateIdentityProvider {}", provider.name))?;
    Ok(())
}

/// Offers `providers` (plus `COGNITO`) on the app client. `UpdateUserPoolClient` resets every
/// field it is not given, so everything the client has is passed back. Returns the client as it
/// was before and after.
pub async fn enable_providers(
    cognito: &Cognito,
    pool: &str,
    client_id: &str,
    providers: &[&str],
) -> Result<(UserPoolClientType, UserPoolClientType)> {
    let describe = || async {
        cognito
            .describe_user_pool_client()
            .user_pool_id(pool)
            .client_id(client_id)
            .send()
            .await
            .context("DescribeUserPoolClient")?
            .user_pool_client
            .ok_or_else(|| anyhow!("DescribeUserPoolClient returned no client"))
    };
    let before = describe().await?;
    let mut supported: Vec<String> = before.supported_identity_providers().to_vec();
    for p in std::iter::once("COGNITO").chain(providers.iter().copied()) {
        if !supported.iter().any(|s| s == p) {
            supported.push(p.to_owned());
        }
    }
    let c = before.clone();
    cognito
        .update_user_pool_client()
        .user_pool_id(pool)
        .client_id(client_id)
        .set_client_name(c.client_name)
        .set_refresh_token_validity(Some(c.refresh_token_validity))
        .set_access_token_validity(c.access_token_validity)
        .set_id_token_validity(c.id_token_validity)
        .set_token_validity_units(c.token_validity_units)
        .set_read_attributes(c.read_attributes)
        .set_write_attributes(c.write_attributes)
        .set_explicit_auth_flows(c.explicit_auth_flows)
        .set_supported_identity_providers(Some(supported))
        .set_callback_urls(c.callback_urls)
        .set_logout_urls(c.logout_urls)
        .set_default_redirect_uri(c.default_redirect_uri)
        .set_allowed_o_auth_flows(c.allowed_o_auth_flows)
        .set_allowed_o_auth_scopes(c.allowed_o_auth_scopes)
        .set_allowed_o_auth_flows_user_pool_client(c.allowed_o_auth_flows_user_pool_client)
        .set_analytics_configuration(c.analytics_configuration)
        .set_prevent_user_existence_errors(c.prevent_user_existence_errors)
        .set_enable_token_revocation(c.enable_token_revocation)
        .set_enable_propagate_additional_user_context_data(
            c.enable_propagate_additional_user_context_data,
        )
        .set_auth_session_validity(c.auth_session_validity)
        .set_refresh_token_rotation(c.refresh_token_rotation)
        .send()
        .await
        .context("UpdateUserPoolClient")?;
    let after = describe().await?;
    Ok((before, after))
}
