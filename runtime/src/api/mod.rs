//! The HTTP API: authenticate, decide, audit, answer — in that order.

mod cursor;
mod handlers;
pub mod http;

use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use bucketdrive_core::audit::{AuditAction, AuditRecord, AuditUser, Basis, Outcome, RecordBuilder};
use bucketdrive_core::claims::{Expectations, Identity};
use bucketdrive_core::policy::{PolicySet, Principal};
use chrono::{DateTime, Utc};
use serde_json::Value;

use self::http::{ApiError, Request, error_response};
use crate::auth::{AuthError, Verifier, bearer};
use crate::ports::{AuditStore, KeySource, ObjectStore, PolicyStore, Presigner};
use crate::settings::Settings;
use crate::web;

pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Everything a request needs. Built once per Lambda instance.
pub struct App {
    pub settings: Settings,
    pub verifier: Verifier,
    pub policies: Arc<dyn PolicyStore>,
    pub audit: Arc<dyn AuditStore>,
    pub objects: Arc<dyn ObjectStore>,
    pub presigner: Arc<dyn Presigner>,
    pub clock: Clock,
}

/// The backing services, for [`App::new`].
pub struct Ports {
    pub keys: Arc<dyn KeySource>,
    pub policies: Arc<dyn PolicyStore>,
    pub audit: Arc<dyn AuditStore>,
    pub objects: Arc<dyn ObjectStore>,
    pub presigner: Arc<dyn Presigner>,
}

/// A signed-in caller, with the policy of their groups loaded.
pub(crate) struct Caller {
    pub identity: Identity,
    pub principal: Principal,
    pub policy: PolicySet,
}

impl Caller {
    pub fn audit_user(&self) -> AuditUser {
        AuditUser {
            sub: Some(self.identity.sub.clone()),
            username: Some(self.identity.username.clone()),
            email: None,
        }
    }
}

/// A handler's successful answer (its audit record is already written).
pub(crate) struct Answer {
    pub response: ApiGatewayV2httpResponse,
}

impl App {
    pub fn new(settings: Settings, ports: Ports, clock: Clock) -> App {
        let verifier = Verifier::new(
            Expectations {
                issuer: settings.issuer.clone(),
                client_id: settings.client_id.clone(),
                skew_secs: bucketdrive_core::claims::DEFAULT_SKEW_SECS,
            },
            ports.keys,
        );
        App {
            settings,
            verifier,
            policies: Arc::new(crate::cache::CachedPolicyStore::new(
                ports.policies,
                crate::cache::POLICY_TTL,
            )),
            audit: ports.audit,
            objects: ports.objects,
            presigner: ports.presigner,
            clock,
        }
    }

    /// Handles one invocation. Never fails: every problem becomes a JSON error answer.
    pub async fn handle_event(
        &self,
        event: Value,
        lambda_request_id: &str,
    ) -> ApiGatewayV2httpResponse {
        self.handle_json(&event.to_string(), lambda_request_id)
            .await
    }

    /// [`App::handle_event`] from the event's JSON text, as the `bootstrap` receives it: read
    /// straight into a [`Request`], borrowing from the text (docs/benchmarks.md has what the
    /// `serde_json::Value` and full-event detours cost).
    pub async fn handle_json(
        &self,
        event: &str,
        lambda_request_id: &str,
    ) -> ApiGatewayV2httpResponse {
        match Request::from_event_json(event, lambda_request_id) {
            Some(req) => self.handle(req).await,
            None => error_response(
                &ApiError::BadRequest(
                    "the request could not be read as an API Gateway HTTP API event".into(),
                ),
                lambda_request_id,
            ),
        }
    }

    pub async fn handle(&self, req: Request) -> ApiGatewayV2httpResponse {
        if !(req.path == "/api" || req.path.starts_with("/api/")) {
            return web::serve(&req.method, &req.path, &self.settings);
        }
        match self.route(&req).await {
            Ok(out) => out.response,
            Err(e) => error_response(&e, &req.ctx.request_id),
        }
    }

    async fn route(&self, req: &Request) -> Result<Answer, ApiError> {
        let now = (self.clock)();
        let route = Route::of(&req.method, &req.path);
        let action = route.as_ref().map_or(AuditAction::Request, |r| r.action());
        let caller = match self.authenticate(req, now).await {
            Ok(c) => c,
            Err((e, identity)) => {
                let (basis, err) = match &e {
                    AuthError::Unavailable(_) => (Basis::Unavailable, ApiError::unavailable()),
                    AuthError::Revoked => (Basis::Revoked, ApiError::Unauthorized(e.to_string())),
                    _ => (Basis::InvalidToken, ApiError::Unauthorized(e.to_string())),
                };
                let mut builder = self.record(action, req, now);
                // A verified token whose user was revoked (or whose policies could not be
                // read) still tells who it was: record them.
                if let Some(id) = identity {
                    let user = AuditUser {
                        sub: Some(id.sub.clone()),
                        username: Some(id.username.clone()),
                        email: None,
                    };
                    builder = builder.user(user, id.groups.clone());
                }
                let record = builder.outcome(
                    Outcome::Deny,
                    basis,
                    format!("not authenticated: {e}"),
                    err.status(),
                );
                self.write(&record).await?;
                return Err(err);
            }
        };
        let route = match route {
            Ok(r) => r,
            Err(err) => {
                return self
                    .refuse(&caller, action, req, now, Basis::BadRequest, err)
                    .await;
            }
        };
        if let Some(msg) = &req.query_error {
            let err = ApiError::BadRequest(msg.clone());
            return self
                .refuse(&caller, action, req, now, Basis::BadRequest, err)
                .await;
        }
        match route {
            Route::Me => handlers::me(self, &caller, req, now).await,
            Route::List => handlers::list(self, &caller, req, now).await,
            Route::Download => handlers::download(self, &caller, req, now).await,
            Route::Upload => handlers::upload(self, &caller, req, now).await,
            Route::Audit => handlers::audit(self, &caller, req, now).await,
        }
    }

    /// Verifies the token, checks revocation, loads the caller's policies. On failure after
    /// the token verified, the identity comes back with the error, for the audit record.
    async fn authenticate(
        &self,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Caller, (AuthError, Option<Identity>)> {
        let token = bearer(req.header("authorization")).map_err(|e| (e, None))?;
        let identity = self
            .verifier
            .verify(token, now.timestamp())
            .await
            .map_err(|e| (e, None))?;
        let not_before = match self.policies.not_before(&identity.sub).await {
            Ok(nb) => nb,
            Err(e) => return Err((e.into(), Some(identity))),
        };
        if bucketdrive_core::claims::is_revoked(identity.issued_at, not_before) {
            return Err((AuthError::Revoked, Some(identity)));
        }
        let policies = match self.policies.group_policies(&identity.groups).await {
            Ok(p) => p,
            Err(e) => return Err((e.into(), Some(identity))),
        };
        Ok(Caller {
            principal: Principal::new(identity.groups.iter().cloned()),
            policy: PolicySet::new(policies),
            identity,
        })
    }

    pub(crate) fn record(
        &self,
        action: AuditAction,
        req: &Request,
        now: DateTime<Utc>,
    ) -> RecordBuilder {
        let id = ulid::Ulid::from_datetime(now.into()).to_string();
        AuditRecord::builder(
            id,
            now,
            action,
            &req.ctx,
            self.settings.audit_retention_days,
        )
    }

    pub(crate) fn caller_record(
        &self,
        caller: &Caller,
        action: AuditAction,
        req: &Request,
        now: DateTime<Utc>,
    ) -> RecordBuilder {
        self.record(action, req, now)
            .user(caller.audit_user(), caller.principal.groups.clone())
    }

    /// Writes the record; if that fails the request fails (audit first, fail closed).
    pub(crate) async fn write(&self, record: &AuditRecord) -> Result<(), ApiError> {
        self.audit.append(record).await.map_err(|e| {
            tracing::error!(error = %e, request_id = %record.request_id, "audit write failed; refusing the request");
            ApiError::unavailable()
        })
    }

    /// Audits a refusal decided outside the policy and returns it as the answer.
    pub(crate) async fn refuse(
        &self,
        caller: &Caller,
        action: AuditAction,
        req: &Request,
        now: DateTime<Utc>,
        basis: Basis,
        err: ApiError,
    ) -> Result<Answer, ApiError> {
        let record = self.caller_record(caller, action, req, now).outcome(
            Outcome::Deny,
            basis,
            err.to_string(),
            err.status(),
        );
        self.write(&record).await?;
        Err(err)
    }
}

/// A fresh audit record id: a ULID (time-ordered, 80 random bits).
pub(crate) fn new_id(now: DateTime<Utc>) -> String {
    ulid::Ulid::from_datetime(now.into()).to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Me,
    List,
    Download,
    Upload,
    Audit,
}

/// Every API route: method, path, handler. docs/openapi.yaml describes exactly these (a test
/// keeps the two equal).
pub const ROUTES: [(&str, &str); 5] = [
    ("GET", "/api/me"),
    ("GET", "/api/ls"),
    ("POST", "/api/download"),
    ("POST", "/api/upload"),
    ("GET", "/api/audit"),
];

impl Route {
    const ALL: [Route; 5] = [
        Route::Me,
        Route::List,
        Route::Download,
        Route::Upload,
        Route::Audit,
    ];

    fn of(method: &str, path: &str) -> Result<Route, ApiError> {
        let path = path.trim_end_matches('/');
        let Some(i) = ROUTES.iter().position(|(_, p)| *p == path) else {
            return Err(ApiError::NotFound(format!(
                "no API route at `{}`",
                path.chars().take(200).collect::<String>()
            )));
        };
        let (want, _) = ROUTES[i];
        if method != want {
            return Err(ApiError::MethodNotAllowed(format!(
                "use {want} for this route"
            )));
        }
        Ok(Route::ALL[i])
    }

    fn action(self) -> AuditAction {
        match self {
            Route::Me => AuditAction::Me,
            Route::List => AuditAction::List,
            Route::Download => AuditAction::Download,
            Route::Upload => AuditAction::Upload,
            Route::Audit => AuditAction::AuditRead,
        }
    }
}
