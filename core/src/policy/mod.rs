//! Grants, denies and the engine that decides with them. See design.md "Policy semantics".

mod engine;
mod listing;
mod rule;

pub use engine::{
    Basis, Decision, DecisionSummary, Effect, HeldGrant, PolicySet, Principal, Reason, Rule,
    RuleRef, RuleSummary,
};
pub use listing::{ListingPlan, Root};
pub use rule::{Action, Deny, Grant, GroupPolicy, Rights, Until};
