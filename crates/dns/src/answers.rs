//! A [`RecordSet`] encoded once into answer sections.
//!
//! Every resource record is stored in wire format with its owner name
//! written as a compression pointer to offset 12 — where the question name
//! starts in every response this responder builds — so answering is a
//! lookup and a copy, and the answer's owner name repeats the question's
//! spelling (0x20-randomising resolvers are happy).

use std::collections::HashMap;

use hickory_proto::serialize::binary::BinEncodable;

use crate::records::RecordSet;

pub(crate) const TYPE_A: u16 = 1;
pub(crate) const TYPE_PTR: u16 = 12;
pub(crate) const TYPE_AAAA: u16 = 28;
pub(crate) const TYPE_ANY: u16 = 255;
pub(crate) const CLASS_IN: u16 = 1;
pub(crate) const CLASS_ANY: u16 = 255;

/// Pre-encoded resource records of one type for one name.
#[derive(Debug, Default)]
pub(crate) struct RrSet {
    pub(crate) bytes: Box<[u8]>,
    pub(crate) count: u16,
}

impl RrSet {
    fn build(rtype: u16, ttl: u32, rdatas: impl Iterator<Item = Vec<u8>>) -> Self {
        let mut bytes = Vec::new();
        let mut count = 0u16;
        for rdata in rdatas {
            // A name with more records than one message can carry would be
            // answered with TC anyway; stop counting before u16 overflows.
            if count == u16::MAX || bytes.len() + 12 + rdata.len() > usize::from(u16::MAX) {
                break;
            }
            bytes.extend_from_slice(&[0xC0, 0x0C]);
            bytes.extend_from_slice(&rtype.to_be_bytes());
            bytes.extend_from_slice(&CLASS_IN.to_be_bytes());
            bytes.extend_from_slice(&ttl.to_be_bytes());
            bytes.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            bytes.extend_from_slice(&rdata);
            count += 1;
        }
        Self {
            bytes: bytes.into_boxed_slice(),
            count,
        }
    }
}

/// The records of one owner name.
#[derive(Debug, Default)]
pub(crate) struct NameAnswers {
    a: RrSet,
    aaaa: RrSet,
    ptr: RrSet,
}

impl NameAnswers {
    /// The answer records for a query of type `qtype`: up to three
    /// pre-encoded runs and the total record count. An empty result means
    /// the name exists without records of that type (NODATA).
    pub(crate) fn select(&self, qtype: u16) -> ([&[u8]; 3], u16) {
        fn one(s: &RrSet) -> ([&[u8]; 3], u16) {
            ([&s.bytes, &[], &[]], s.count)
        }
        match qtype {
            TYPE_A => one(&self.a),
            TYPE_AAAA => one(&self.aaaa),
            TYPE_PTR => one(&self.ptr),
            TYPE_ANY => (
                [&self.a.bytes, &self.aaaa.bytes, &self.ptr.bytes],
                self.a
                    .count
                    .saturating_add(self.aaaa.count)
                    .saturating_add(self.ptr.count),
            ),
            _ => ([&[], &[], &[]], 0),
        }
    }
}

/// All local answers, keyed by lowercase wire-format owner name.
#[derive(Debug, Default)]
pub(crate) struct Answers {
    names: HashMap<Box<[u8]>, NameAnswers>,
}

impl Answers {
    pub(crate) fn compile(set: &RecordSet, ttl: u32) -> Self {
        let names = set
            .names
            .iter()
            .map(|(key, data)| {
                let answers = NameAnswers {
                    a: RrSet::build(TYPE_A, ttl, data.v4.iter().map(|a| a.octets().to_vec())),
                    aaaa: RrSet::build(TYPE_AAAA, ttl, data.v6.iter().map(|a| a.octets().to_vec())),
                    ptr: RrSet::build(
                        TYPE_PTR,
                        ttl,
                        data.ptr
                            .iter()
                            .map(|n| n.to_bytes().expect("a valid name encodes")),
                    ),
                };
                (key.clone(), answers)
            })
            .collect();
        Self { names }
    }

    /// `name` is the lowercase wire-format owner name.
    #[inline]
    pub(crate) fn get(&self, name: &[u8]) -> Option<&NameAnswers> {
        self.names.get(name)
    }
}
