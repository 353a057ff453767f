//! Federation end to end on the emulator: people who sign in through an OpenID Connect or SAML
//! identity provider see exactly the files of the BucketDrive groups their IdP groups map to.
//!
//! One stack (deployed by the real CLI) declares an OIDC provider `FakeOidc` and a SAML provider
//! `FakeSaml`, both mapping the IdP group "Finance Team" to `finance`; `finance` reads
//! `finance/`, `staff` reads `reports/`. The emulator cannot create identity providers from the
//! template (`CreateIdentityProviders=false`), so the setup creates the template's own provider
//! resources with the Cognito API — their `AttributeMapping` verbatim, their `ProviderDetails`
//! pointed at a fake IdP on 127.0.0.1 — and offers them on the app client. People then sign in
//! through the hosted UI like a browser: authorize → IdP → `idpresponse` → the app's callback →
//! `/oauth2/token` with PKCE. The access token must carry what the pre-token trigger (the real
//! runtime, reading the policies table the CLI wrote) mapped, and the real API must honour it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use aws_sdk_cognitoidentityprovider::types::{AttributeType, UserStatusType};
use bucketdrive_tests::federation::{
    Browser, FakeIdp, IdpUser, SamlServiceProvider, SignIn, TemplateProvider, create_provider,
    enable_providers, federated_sign_in, jwt_claims, random_token, template_providers,
};
use bucketdrive_tests::stack::{Deployed, encode};
use bucketdrive_tests::{Emulator, REGION, unique_name};
use serde_json::{Map, Value, json};
use tokio::sync::OnceCell;

const OIDC: &str = "FakeOidc";
const SAML: &str = "FakeSaml";
const OIDC_CLIENT_ID: &str = "bucketdrive-e2e";
const OIDC_GROUPS_CLAIM: &str = "groups";
const SAML_GROUPS_ATTRIBUTE: &str = "http://schemas.xmlsoap.org/claims/Group";
const FINANCE_FILE: &str = "finance/2026/q3-close.csv";
const FINANCE_BODY: &str = "account,amount\n4000,1250000\n";
const REPORTS_FILE: &str = "reports/weekly.txt";
const REPORTS_BODY: &str = "all hands on friday\n";

fn config(stack: &str, bucket: &str) -> String {
    format!(
        r#"stack: {stack}
region: {REGION}
buckets:
  - name: {bucket}
    create: true
identity:
  mfa: off
  password_auth: true
  providers:
    - type: oidc
      name: {OIDC}
      # Only the (skipped) stack resource reads these; the test points the provider it creates
      # at the fake IdP.
      issuer: https://idp.example.com
      client_id: {OIDC_CLIENT_ID}
      client_secret_arn: arn:aws:secretsmanager:{REGION}:000000000000:secret:bucketdrive-e2e-idp-AbCdEf
      groups_attribute: {OIDC_GROUPS_CLAIM}
      group_map:
        "Finance Team": finance
    - type: saml
      name: {SAML}
      metadata_url: https://idp.example.com/saml/metadata
      groups_attribute: {SAML_GROUPS_ATTRIBUTE}
      group_map:
        "Finance Team": finance
groups:
  finance:
    grants: [ "s3://{bucket}/finance/" ]
  staff:
    grants: [ "s3://{bucket}/reports/" ]
"#
    )
}

/// The stack, the IdP and the providers, set up once for every test in this file.
struct Federation {
    emulator: &'static Emulator,
    d: Deployed,
    idp: FakeIdp,
    pool: String,
    providers: Vec<TemplateProvider>,
    /// The app client before and after the providers were offered on it.
    client_before: aws_sdk_cognitoidentityprovider::types::UserPoolClientType,
    client_after: aws_sdk_cognitoidentityprovider::types::UserPoolClientType,
    /// Where the IdP sent people back (`<Cognito domain>/oauth2/idpresponse`).
    cognito_base: String,
}

static FEDERATION: OnceCell<Federation> = OnceCell::const_new();

async fn federation() -> &'static Federation {
    FEDERATION.get_or_init(|| async { set_up().await }).await
}

async fn put(emulator: &Emulator, bucket: &str, key: &str, body: &str) {
    emulator
        .s3()
        .await
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();
}

async fn set_up() -> Federation {
    let emulator = Emulator::shared().unwrap();
    let idp = FakeIdp::start(OIDC_CLIENT_ID, &random_token(40)).unwrap();
    let stack = unique_name("bd-fed");
    let bucket = unique_name("bd-fed-files");
    let yaml = config(&stack, &bucket);
    let d = tokio::task::spawn_blocking(move || Deployed::deploy(emulator, &stack, &bucket, &yaml))
        .await
        .unwrap()
        .unwrap();
    put(emulator, &d.bucket, FINANCE_FILE, FINANCE_BODY).await;
    put(emulator, &d.bucket, REPORTS_FILE, REPORTS_BODY).await;
    put(emulator, &d.bucket, "board/minutes.txt", "nobody's").await;

    let cognito = emulator.cognito().await;
    let pool = d.output("UserPoolId").unwrap().to_owned();
    let described = cognito
        .describe_user_pool()
        .user_pool_id(&pool)
        .send()
        .await
        .unwrap();
    let user_pool = described.user_pool.unwrap();
    assert!(
        user_pool
            .lambda_config()
            .and_then(|l| l.pre_token_generation_config())
            .is_some_and(|c| c.lambda_arn().contains("pretoken")),
        "the stack must make the runtime the pool's V2 pre-token trigger: {:?}",
        user_pool.lambda_config()
    );
    // Federation redirects name the pool's Cognito domain, which the emulator serves on any host.
    let cognito_base = match user_pool.domain() {
        Some(prefix) if !prefix.is_empty() => {
            format!("https://{prefix}.auth.{REGION}.amazoncognito.com")
        }
        _ => emulator.endpoint().to_owned(),
    };

    // The providers exactly as the template declares them (the stack skipped them here).
    let providers = template_providers(emulator, &d).unwrap();
    let names: Vec<&str> = providers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.len(), 2, "{providers:#?}");
    assert!(names.contains(&OIDC) && names.contains(&SAML), "{names:?}");
    for p in &providers {
        let mut details = p.details.clone();
        if p.provider_type == "OIDC" {
            assert_eq!(details["client_id"], idp.client_id());
            // CloudFormation resolves this dynamic reference; the API takes the secret itself.
            assert!(
                details["client_secret"].starts_with("{{resolve:secretsmanager:"),
                "{details:?}"
            );
            details.insert("client_secret".into(), idp.client_secret().to_owned());
            details.extend(idp.oidc_endpoints());
        } else {
            // MiniStack never fetches a MetadataURL; the metadata goes in as a file.
            assert_eq!(
                details.remove("MetadataURL").as_deref(),
                Some("https://idp.example.com/saml/metadata")
            );
            details.insert("MetadataFile".into(), idp.saml_metadata());
        }
        create_provider(&cognito, &pool, p, &details).await.unwrap();
    }
    let (client_before, client_after) = enable_providers(
        &cognito,
        &pool,
        d.output("UserPoolClientId").unwrap(),
        &[OIDC, SAML],
    )
    .await
    .unwrap();
    idp.set_saml_service_provider(SamlServiceProvider {
        acs_url: format!("{cognito_base}/saml2/idpresponse"),
        audience: format!("urn:amazon:cognito:sp:{pool}"),
    });
    Federation {
        emulator,
        d,
        idp,
        pool,
        providers,
        client_before,
        client_after,
        cognito_base,
    }
}

fn provider(f: &Federation, name: &str) -> TemplateProvider {
    f.providers.iter().find(|p| p.name == name).unwrap().clone()
}

/// An OIDC user whose `groups` claim is the JSON array text Cognito stores for an array claim.
fn oidc_user(login: &str, groups: &[&str]) -> IdpUser {
    let mut claims = Map::new();
    claims.insert(
        OIDC_GROUPS_CLAIM.into(),
        json!(serde_json::to_string(groups).unwrap()),
    );
    claims.insert("name".into(), json!(login));
    IdpUser {
        login: login.to_owned(),
        subject: format!("idp-{}", random_token(12)),
        email: format!("{login}@idp.example.com"),
        claims,
        saml_attributes: Vec::new(),
    }
}

/// What a caller may reach, checked through the API in every way it offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reach {
    finance: bool,
    reports: bool,
}

/// Asserts the API lets `token` reach exactly `reach`; returns `/api/me`.
async fn assert_reaches(f: &Federation, token: &str, reach: Reach) -> Value {
    let b = &f.d.bucket;
    let api = f.d.api(token).unwrap();
    let me = api.get("/api/me").await.unwrap();
    assert_eq!(me.status, 200, "{:?}", me.body);
    let groups: Vec<&str> = me.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    assert_eq!(groups.contains(&"finance"), reach.finance, "{groups:?}");
    assert_eq!(groups.contains(&"staff"), reach.reports, "{groups:?}");
    let mut want_roots = Vec::new();
    if reach.finance {
        want_roots.push(format!("s3://{b}/finance/"));
    }
    if reach.reports {
        want_roots.push(format!("s3://{b}/reports/"));
    }
    let held: Vec<String> = me.body["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(held, want_roots, "grants held: {:?}", me.body);

    let ls = api.get("/api/ls").await.unwrap();
    assert_eq!(ls.status, 200, "{:?}", ls.body);
    let mut roots: Vec<String> = ls.body["roots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_owned())
        .collect();
    roots.sort();
    assert_eq!(roots, want_roots, "{:?}", ls.body);

    for (allowed, folder, file, body) in [
        (reach.finance, "finance/", FINANCE_FILE, FINANCE_BODY),
        (reach.reports, "reports/", REPORTS_FILE, REPORTS_BODY),
        (false, "board/", "board/minutes.txt", ""),
    ] {
        let listing = api
            .get(&format!(
                "/api/ls?path={}",
                encode(&format!("s3://{b}/{folder}"))
            ))
            .await
            .unwrap();
        let dl = api
            .post(
                "/api/download",
                &json!({"path": format!("s3://{b}/{file}")}),
            )
            .await
            .unwrap();
        if allowed {
            assert_eq!(listing.status, 200, "ls {folder}: {:?}", listing.body);
            assert_eq!(dl.status, 200, "download {file}: {:?}", dl.body);
            let fetched = reqwest::get(dl.body["url"].as_str().unwrap())
                .await
                .unwrap();
            assert_eq!(fetched.status(), 200);
            assert_eq!(fetched.text().await.unwrap(), body, "the bytes of {file}");
        } else {
            assert_eq!(listing.status, 403, "ls {folder}: {:?}", listing.body);
            assert_eq!(dl.status, 403, "download {file}: {:?}", dl.body);
            assert!(dl.body.get("url").is_none(), "{:?}", dl.body);
        }
    }
    me.body
}

/// The groups the pre-token trigger put into an access token.
fn mapped_groups(access_token: &str) -> Value {
    jwt_claims(access_token).unwrap()["bucketdrive:groups"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_providers_are_offered_on_the_app_client_and_nothing_else_changes() {
    let f = federation().await;
    assert_eq!(
        f.client_after.supported_identity_providers(),
        ["COGNITO", OIDC, SAML]
    );
    assert_eq!(f.client_before.supported_identity_providers(), ["COGNITO"]);
    // UpdateUserPoolClient resets what it is not given: every other setting must have survived.
    let mut after = f.client_after.clone();
    after.supported_identity_providers = f.client_before.supported_identity_providers.clone();
    after.last_modified_date = f.client_before.last_modified_date;
    assert_eq!(after, f.client_before);
    assert!(
        f.client_before
            .write_attributes()
            .contains(&"custom:idp_groups".to_owned()),
        "Cognito requires mapped attributes to be writable: {:?}",
        f.client_before.write_attributes()
    );
    // The providers carry the template's attribute mapping.
    let cognito = f.emulator.cognito().await;
    for (name, groups_attribute) in [(OIDC, OIDC_GROUPS_CLAIM), (SAML, SAML_GROUPS_ATTRIBUTE)] {
        let p = cognito
            .describe_identity_provider()
            .user_pool_id(&f.pool)
            .provider_name(name)
            .send()
            .await
            .unwrap()
            .identity_provider
            .unwrap();
        let mapping: BTreeMap<String, String> = p
            .attribute_mapping()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(mapping["custom:idp_groups"], groups_attribute);
        assert_eq!(mapping, provider(f, name).attribute_mapping);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oidc_sign_in_whose_idp_group_is_mapped_sees_exactly_that_groups_files() {
    let f = federation().await;
    let browser = Browser::new(f.emulator).unwrap();
    let ana = oidc_user("ana", &["Finance Team", "Everyone"]);
    f.idp.add_user(ana.clone());

    let signed = federated_sign_in(&f.d, &browser, OIDC, "ana")
        .await
        .unwrap();
    // The way there: the emulator sent the browser to the IdP, the IdP back to Cognito's
    // idpresponse, and that to the app's callback.
    let SignIn {
        access_token,
        id_token,
        hops,
    } = signed;
    let to_idp = hops[0].location.as_deref().unwrap();
    assert!(
        to_idp.starts_with(&format!("{}/authorize?", f.idp.issuer())),
        "{to_idp}"
    );
    assert!(
        hops[1]
            .location
            .as_deref()
            .unwrap()
            .starts_with(&format!("{}/oauth2/idpresponse?", f.cognito_base)),
        "{hops:#?}"
    );
    let idp_log = f.idp.requests();
    assert!(
        idp_log.iter().any(|r| r == "POST /token -> 200"),
        "Cognito redeemed the code at the IdP with the client secret: {idp_log:?}"
    );

    // The federated profile Cognito made: mapped attributes, and the link to the provider.
    let id = jwt_claims(&id_token).unwrap();
    assert_eq!(id["email"], ana.email);
    assert_eq!(id["custom:idp_groups"], r#"["Finance Team","Everyone"]"#);
    assert_eq!(id["identities"][0]["providerName"], OIDC);
    assert_eq!(id["identities"][0]["userId"], ana.subject);
    let username = id["cognito:username"].as_str().unwrap().to_owned();
    let user = f
        .emulator
        .cognito()
        .await
        .admin_get_user()
        .user_pool_id(&f.pool)
        .username(&username)
        .send()
        .await
        .unwrap();
    assert_eq!(user.user_status(), Some(&UserStatusType::ExternalProvider));

    // The trigger mapped "Finance Team" to finance and dropped "Everyone".
    let access = jwt_claims(&access_token).unwrap();
    assert_eq!(access["token_use"], "access");
    assert_eq!(access["bucketdrive:groups"], json!(["finance"]), "{access}");
    assert_eq!(id["bucketdrive:groups"], json!(["finance"]));
    assert_reaches(
        f,
        &access_token,
        Reach {
            finance: true,
            reports: false,
        },
    )
    .await;

    // An IdP group named exactly like a BucketDrive group needs no group_map entry.
    f.idp.add_user(oidc_user("bob", &["Everyone", "staff"]));
    let bob = federated_sign_in(&f.d, &browser, OIDC, "bob")
        .await
        .unwrap();
    assert_eq!(mapped_groups(&bob.access_token), json!(["staff"]));
    assert_reaches(
        f,
        &bob.access_token,
        Reach {
            finance: false,
            reports: true,
        },
    )
    .await;

    // The IdP takes ana out of "Finance Team": her next sign-in maps nothing.
    let mut moved = ana.clone();
    moved.claims.insert(
        OIDC_GROUPS_CLAIM.into(),
        json!(serde_json::to_string(&["Everyone"]).unwrap()),
    );
    f.idp.add_user(moved);
    let again = federated_sign_in(&f.d, &browser, OIDC, "ana")
        .await
        .unwrap();
    assert_eq!(
        jwt_claims(&again.id_token).unwrap()["cognito:username"],
        username.as_str(),
        "the same profile signs in again"
    );
    assert_eq!(mapped_groups(&again.access_token), json!([]));
    assert_reaches(
        f,
        &again.access_token,
        Reach {
            finance: false,
            reports: false,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saml_sign_in_whose_idp_group_is_mapped_sees_exactly_that_groups_files() {
    let f = federation().await;
    let browser = Browser::new(f.emulator).unwrap();
    let mapping = provider(f, SAML).attribute_mapping;
    let email = "carol@idp.example.com".to_owned();
    f.idp.add_user(IdpUser {
        login: "carol".into(),
        subject: email.clone(),
        email: email.clone(),
        claims: Map::new(),
        saml_attributes: vec![
            (mapping["email"].clone(), vec![email.clone()]),
            (
                mapping["custom:idp_groups"].clone(),
                // MiniStack keeps only the first value of a multi-valued attribute (AWS joins
                // them as `[Finance Team, Everyone]`); both shapes map the same way.
                vec!["Finance Team".into(), "Everyone".into()],
            ),
        ],
    });
    let signed = federated_sign_in(&f.d, &browser, SAML, "carol")
        .await
        .unwrap();
    // authorize → the IdP's SSO endpoint with a SAMLRequest → its auto-post form → Cognito's ACS.
    let to_idp = signed.hops[0].location.as_deref().unwrap();
    assert!(
        to_idp.starts_with(&format!("{}/saml/sso?SAMLRequest=", f.idp.issuer())),
        "{to_idp}"
    );
    let form = signed.hops[1].form().unwrap();
    assert_eq!(form.action, format!("{}/saml2/idpresponse", f.cognito_base));
    let id = jwt_claims(&signed.id_token).unwrap();
    assert_eq!(id["email"], email);
    assert_eq!(id["identities"][0]["providerName"], SAML);
    assert_eq!(mapped_groups(&signed.access_token), json!(["finance"]));
    assert_reaches(
        f,
        &signed.access_token,
        Reach {
            finance: true,
            reports: false,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_user_who_writes_idp_groups_on_themselves_gets_nothing_from_them() {
    let f = federation().await;
    let email = format!("{}@example.com", unique_name("dave"));
    let password = f.d.user(f.emulator, &email, &[]).await.unwrap();
    let (access, _) = f.d.sign_in(f.emulator, &email, &password).await.unwrap();
    // The app client may write custom:idp_groups (Cognito requires mapped attributes to be
    // writable), so a local user can set it with their own token.
    let cognito = f.emulator.cognito().await;
    cognito
        .update_user_attributes()
        .access_token(&access)
        .user_attributes(
            AttributeType::builder()
                .name("custom:idp_groups")
                .value(r#"["Finance Team","finance","staff"]"#)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let (access, id_token) = f.d.sign_in(f.emulator, &email, &password).await.unwrap();
    assert_eq!(
        jwt_claims(&id_token).unwrap()["custom:idp_groups"],
        r#"["Finance Team","finance","staff"]"#,
        "the attribute was written"
    );
    let claims = jwt_claims(&access).unwrap();
    assert!(
        claims.get("bucketdrive:groups").is_none(),
        "the trigger left the local user alone: {claims}"
    );
    let me = assert_reaches(
        f,
        &access,
        Reach {
            finance: false,
            reports: false,
        },
    )
    .await;
    assert_eq!(me["groups"], json!([]));
}
