//! `neutrino infra render`'s manifests: documents 000 and 001 reproduced
//! field for field, and every rendered document checked against the
//! upstream CRD schemas.

mod crd;
mod docs;
mod errors;
mod support;
