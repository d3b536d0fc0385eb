//! Request bodies of every POST and PUT, read as upstream's WSME types
//! read them (see [`crate::wsme`]), with defaults applied on create and
//! the cross-field rules that need no database.
//!
//! Each `parse` does what WSME does before a controller runs: unknown
//! attributes, types, ranges, enum values, mandatory attributes. The
//! `check*` methods are the controllers' static rules; call them where
//! upstream does (after the parent lookup and the policy check), so that
//! a 404 or 403 wins over a 400 as it does upstream.

pub mod admin;
pub mod healthmonitor;
pub mod l7policy;
pub mod l7rule;
pub mod listener;
pub mod loadbalancer;
pub mod member;
pub mod pool;
