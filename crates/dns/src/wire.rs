//! Queries parsed in place and responses written into a reused buffer.
//!
//! Only what a standard query needs is decoded: the header, the single
//! question (its name lowercased into a stack buffer, the lookup key) and an
//! EDNS OPT record among the additionals. Anything else gets FORMERR or
//! NOTIMP, as dnsmasq does.

use crate::answers::{Answers, CLASS_ANY, CLASS_IN};

pub(crate) const HEADER_LEN: usize = 12;
/// The UDP payload size this responder advertises in its OPT record (the
/// DNS flag day 2020 value).
pub(crate) const EDNS_PAYLOAD: u16 = 1232;
const TYPE_OPT: u16 = 41;

pub(crate) const RCODE_NOERROR: u8 = 0;
pub(crate) const RCODE_FORMERR: u8 = 1;
pub(crate) const RCODE_SERVFAIL: u8 = 2;
pub(crate) const RCODE_NXDOMAIN: u8 = 3;
pub(crate) const RCODE_NOTIMP: u8 = 4;
pub(crate) const RCODE_REFUSED: u8 = 5;
/// Extended RCODE (needs OPT): the query's EDNS version is not 0.
const RCODE_BADVERS: u16 = 16;

/// The EDNS part of a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Edns {
    pub(crate) payload: u16,
    pub(crate) version: u8,
}

/// A standard query, borrowed from the received bytes.
pub(crate) struct Query<'a> {
    pub(crate) msg: &'a [u8],
    /// End of the question section (header + name + type + class).
    pub(crate) question_end: usize,
    pub(crate) qtype: u16,
    pub(crate) qclass: u16,
    pub(crate) edns: Option<Edns>,
    name: [u8; 255],
    name_len: usize,
}

impl Query<'_> {
    /// The question name in lowercase wire format.
    pub(crate) fn lower_name(&self) -> &[u8] {
        &self.name[..self.name_len]
    }

    /// The largest response the client accepts over UDP.
    pub(crate) fn udp_limit(&self) -> usize {
        match self.edns {
            Some(e) => usize::from(e.payload.max(512)),
            None => 512,
        }
    }
}

/// Why a received message is not a standard query.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NotAQuery {
    /// Reply with just a header carrying this RCODE.
    Reject(u8),
    /// Too short to be DNS, or a response: no reply at all.
    Ignore,
}

pub(crate) fn parse(msg: &[u8]) -> Result<Query<'_>, NotAQuery> {
    if msg.len() < HEADER_LEN || msg[2] & 0x80 != 0 {
        return Err(NotAQuery::Ignore);
    }
    let opcode = (msg[2] >> 3) & 0x0F;
    if opcode != 0 {
        return Err(NotAQuery::Reject(RCODE_NOTIMP));
    }
    let count = |i: usize| u16::from_be_bytes([msg[i], msg[i + 1]]);
    let (qdcount, ancount, nscount, arcount) = (count(4), count(6), count(8), count(10));
    if qdcount != 1 || ancount != 0 || nscount != 0 {
        return Err(NotAQuery::Reject(RCODE_FORMERR));
    }
    let mut q = Query {
        msg,
        question_end: 0,
        qtype: 0,
        qclass: 0,
        edns: None,
        name: [0; 255],
        name_len: 0,
    };
    let Some(mut pos) = read_question_name(msg, HEADER_LEN, &mut q.name, &mut q.name_len) else {
        return Err(NotAQuery::Reject(RCODE_FORMERR));
    };
    let Some(fixed) = msg.get(pos..pos + 4) else {
        return Err(NotAQuery::Reject(RCODE_FORMERR));
    };
    q.qtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    q.qclass = u16::from_be_bytes([fixed[2], fixed[3]]);
    pos += 4;
    q.question_end = pos;
    for _ in 0..arcount {
        let Some((root_owner, after_name)) = skip_name(msg, pos) else {
            return Err(NotAQuery::Reject(RCODE_FORMERR));
        };
        let Some(fixed) = msg.get(after_name..after_name + 10) else {
            return Err(NotAQuery::Reject(RCODE_FORMERR));
        };
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        pos = after_name + 10 + rdlen;
        if pos > msg.len() {
            return Err(NotAQuery::Reject(RCODE_FORMERR));
        }
        if rtype == TYPE_OPT {
            if q.edns.is_some() || !root_owner {
                return Err(NotAQuery::Reject(RCODE_FORMERR));
            }
            q.edns = Some(Edns {
                payload: u16::from_be_bytes([fixed[2], fixed[3]]),
                version: fixed[5],
            });
        }
    }
    Ok(q)
}

/// Reads an uncompressed name (questions are never compressed in practice;
/// a pointer here is FORMERR) and writes it lowercased to `out`.
#[inline]
fn read_question_name(
    msg: &[u8],
    mut pos: usize,
    out: &mut [u8; 255],
    out_len: &mut usize,
) -> Option<usize> {
    let mut len = 0;
    loop {
        let label_len = usize::from(*msg.get(pos)?);
        if label_len == 0 {
            out[len] = 0;
            *out_len = len + 1;
            return Some(pos + 1);
        }
        // 0xC0.. is a pointer, 0x40..0xBF reserved label types.
        if label_len > 63 || len + 1 + label_len + 1 > 255 {
            return None;
        }
        let label = msg.get(pos + 1..pos + 1 + label_len)?;
        out[len] = label_len as u8;
        for (dst, src) in out[len + 1..len + 1 + label_len].iter_mut().zip(label) {
            *dst = src.to_ascii_lowercase();
        }
        len += 1 + label_len;
        pos += 1 + label_len;
    }
}

/// Skips a possibly compressed name; returns whether it was the root name
/// and the position after it.
fn skip_name(msg: &[u8], mut pos: usize) -> Option<(bool, usize)> {
    let start = pos;
    loop {
        let b = *msg.get(pos)?;
        match b {
            0 => return Some((pos == start, pos + 1)),
            1..=63 => pos += 1 + usize::from(b),
            0xC0..=0xFF => {
                msg.get(pos + 1)?;
                return Some((false, pos + 2));
            }
            _ => return None,
        }
    }
}

/// `local=/domain/` domains: names at or under them are never forwarded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LocalDomains {
    /// Lowercase wire format, root label included.
    suffixes: Vec<Box<[u8]>>,
    /// `local=//`: names of a single label.
    unqualified: bool,
}

impl LocalDomains {
    /// `domains` as [`crate::parse_dnsmasq_options`] returns them; `""`
    /// stands for unqualified names. Invalid domains are skipped with a
    /// warning (the options parser has already refused them).
    pub(crate) fn new(domains: &[String]) -> Self {
        let mut local = Self::default();
        for domain in domains {
            if domain.is_empty() {
                local.unqualified = true;
                continue;
            }
            match crate::records::parse_name(domain) {
                Ok(name) => {
                    let wire = crate::records::lower_wire(&name);
                    if !local.suffixes.contains(&wire) {
                        local.suffixes.push(wire);
                    }
                }
                Err(err) => tracing::warn!(%err, "local domain ignored"),
            }
        }
        local
    }

    /// `name`: lowercase wire format.
    pub(crate) fn contains(&self, name: &[u8]) -> bool {
        if self.unqualified && name.len() > 1 && usize::from(name[0]) + 2 == name.len() {
            return true;
        }
        if self.suffixes.is_empty() {
            return false;
        }
        let mut pos = 0;
        while pos < name.len() {
            let rest = &name[pos..];
            if self.suffixes.iter().any(|s| **s == *rest) {
                return true;
            }
            if rest[0] == 0 {
                break;
            }
            pos += 1 + usize::from(rest[0]);
        }
        false
    }
}

/// What to do with a query.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// `out` holds the response.
    Reply,
    /// Not ours: ask the upstreams.
    Forward,
    /// Nothing to send.
    Ignore,
}

/// Answers `msg` from `answers` and `local`, writing the response to `out`.
/// Over UDP a response is limited to 512 bytes or the query's EDNS payload
/// size; over TCP (`tcp`) to 65535.
pub(crate) fn respond(
    msg: &[u8],
    answers: &Answers,
    local: &LocalDomains,
    tcp: bool,
    out: &mut Vec<u8>,
) -> Outcome {
    let q = match parse(msg) {
        Ok(q) => q,
        Err(NotAQuery::Reject(rcode)) => {
            write_header_only(msg, rcode, out);
            return Outcome::Reply;
        }
        Err(NotAQuery::Ignore) => return Outcome::Ignore,
    };
    let limit = if tcp {
        usize::from(u16::MAX)
    } else {
        q.udp_limit()
    };
    if q.edns.is_some_and(|e| e.version != 0) {
        write_response(&q, false, RCODE_BADVERS, ([&[], &[], &[]], 0), limit, out);
        return Outcome::Reply;
    }
    let name = q.lower_name();
    if matches!(q.qclass, CLASS_IN | CLASS_ANY)
        && let Some(records) = answers.get(name)
    {
        write_response(
            &q,
            true,
            u16::from(RCODE_NOERROR),
            records.select(q.qtype),
            limit,
            out,
        );
        return Outcome::Reply;
    }
    if local.contains(name) {
        write_response(
            &q,
            true,
            u16::from(RCODE_NXDOMAIN),
            ([&[], &[], &[]], 0),
            limit,
            out,
        );
        return Outcome::Reply;
    }
    Outcome::Forward
}

/// A response without records (SERVFAIL, REFUSED) for a query that parsed.
pub(crate) fn write_error(q: &Query<'_>, rcode: u8, tcp: bool, out: &mut Vec<u8>) {
    let limit = if tcp {
        usize::from(u16::MAX)
    } else {
        q.udp_limit()
    };
    write_response(q, false, u16::from(rcode), ([&[], &[], &[]], 0), limit, out);
}

/// Header, the query's question, `records`, and an OPT record if the query
/// had one. A response over `limit` is sent without records and with TC set,
/// so the client retries over TCP.
fn write_response(
    q: &Query<'_>,
    authoritative: bool,
    rcode: u16,
    (parts, count): ([&[u8]; 3], u16),
    limit: usize,
    out: &mut Vec<u8>,
) {
    let msg = q.msg;
    let answers_len: usize = parts.iter().map(|p| p.len()).sum();
    let opt_len = if q.edns.is_some() { 11 } else { 0 };
    let truncated = q.question_end + answers_len + opt_len > limit;
    let (count, parts) = if truncated {
        (0, [&[][..]; 3])
    } else {
        (count, parts)
    };

    out.clear();
    out.extend_from_slice(&msg[0..2]);
    // QR, the query's opcode (always 0 here) and RD; AA and TC as decided.
    let mut b2 = 0x80 | (msg[2] & 0x79);
    if authoritative {
        b2 |= 0x04;
    }
    if truncated {
        b2 |= 0x02;
    }
    // RA (forwarding is recursion as far as the client can tell), the
    // query's CD bit, and the low four bits of the RCODE.
    let b3 = 0x80 | (msg[3] & 0x10) | (rcode & 0x0F) as u8;
    out.extend_from_slice(&[b2, b3, 0, 1]);
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, u8::from(q.edns.is_some())]);
    out.extend_from_slice(&msg[HEADER_LEN..q.question_end]);
    for part in parts {
        out.extend_from_slice(part);
    }
    if q.edns.is_some() {
        let ext_rcode = (rcode >> 4) as u8;
        out.push(0); // root owner
        out.extend_from_slice(&TYPE_OPT.to_be_bytes());
        out.extend_from_slice(&EDNS_PAYLOAD.to_be_bytes());
        out.extend_from_slice(&[ext_rcode, 0, 0, 0]); // version 0, DO clear
        out.extend_from_slice(&[0, 0]); // no options
    }
}

/// Just a header: id, QR, the query's opcode and RD, the RCODE; no sections.
pub(crate) fn write_header_only(msg: &[u8], rcode: u8, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&msg[0..2]);
    out.push(0x80 | (msg[2] & 0x79));
    out.push(0x80 | (rcode & 0x0F));
    out.extend_from_slice(&[0; 8]);
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use hickory_proto::op::{
        Edns as HEdns, Message, MessageType, OpCode, Query as HQuery, ResponseCode,
    };
    use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

    use super::*;
    use crate::{HostEntry, RecordSet, Zone};

    fn answers() -> Answers {
        let zone = Zone {
            hosts: vec![
                HostEntry {
                    ip: "172.17.0.100".parse().unwrap(),
                    hostnames: vec!["edpm-compute-0.internalapi".into()],
                },
                HostEntry {
                    ip: "fd00:bbbb::100".parse().unwrap(),
                    hostnames: vec!["edpm-compute-0.internalapi".into()],
                },
            ],
        };
        Answers::compile(&RecordSet::from_zones(&[zone]), 30)
    }

    fn query(name: &str, rtype: RecordType, edns: bool) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.id = 0xBEEF;
        m.metadata.recursion_desired = true;
        m.add_query(HQuery::query(Name::from_ascii(name).unwrap(), rtype));
        if edns {
            let mut e = HEdns::new();
            e.set_max_payload(4096);
            m.set_edns(e);
        }
        m.to_vec().unwrap()
    }

    fn ask(msg: &[u8], local: &LocalDomains) -> (Outcome, Option<Message>) {
        let mut out = Vec::new();
        let outcome = respond(msg, &answers(), local, false, &mut out);
        let decoded = (outcome == Outcome::Reply)
            .then(|| Message::from_vec(&out).expect("hickory decodes our response"));
        (outcome, decoded)
    }

    #[test]
    fn a_record_is_authoritative_and_echoes_question() {
        for edns in [false, true] {
            let q = query("EDPM-Compute-0.InternalApi.", RecordType::A, edns);
            let (outcome, r) = ask(&q, &LocalDomains::default());
            assert_eq!(outcome, Outcome::Reply);
            let r = r.unwrap();
            assert_eq!(r.metadata.id, 0xBEEF);
            assert_eq!(r.metadata.message_type, MessageType::Response);
            assert!(r.metadata.authoritative);
            assert!(r.metadata.recursion_desired);
            assert_eq!(r.metadata.response_code, ResponseCode::NoError);
            assert_eq!(
                r.queries[0].name().to_ascii(),
                "EDPM-Compute-0.InternalApi."
            );
            assert_eq!(r.answers.len(), 1);
            let rec = &r.answers[0];
            assert_eq!(rec.name.to_ascii(), "EDPM-Compute-0.InternalApi.");
            assert_eq!(rec.ttl, 30);
            assert_eq!(rec.dns_class, DNSClass::IN);
            match &rec.data {
                RData::A(a) => {
                    assert_eq!(IpAddr::V4(a.0), "172.17.0.100".parse::<IpAddr>().unwrap())
                }
                other => panic!("not an A record: {other:?}"),
            }
            assert_eq!(r.edns.is_some(), edns);
            if edns {
                assert_eq!(r.edns.as_ref().unwrap().max_payload(), EDNS_PAYLOAD);
            }
        }
    }

    #[test]
    fn aaaa_ptr_any_and_nodata() {
        let local = LocalDomains::default();
        let (_, r) = ask(
            &query("edpm-compute-0.internalapi.", RecordType::AAAA, true),
            &local,
        );
        let r = r.unwrap();
        assert!(
            matches!(&r.answers[0].data, RData::AAAA(a) if a.0 == "fd00:bbbb::100".parse::<std::net::Ipv6Addr>().unwrap())
        );

        let (_, r) = ask(
            &query("100.0.17.172.in-addr.arpa.", RecordType::PTR, false),
            &local,
        );
        let r = r.unwrap();
        assert!(r.metadata.authoritative);
        assert!(
            matches!(&r.answers[0].data, RData::PTR(p) if p.0.to_ascii() == "edpm-compute-0.internalapi.")
        );

        let (_, r) = ask(
            &query("edpm-compute-0.internalapi.", RecordType::ANY, false),
            &local,
        );
        assert_eq!(r.unwrap().answers.len(), 2);

        let (_, r) = ask(
            &query("edpm-compute-0.internalapi.", RecordType::MX, false),
            &local,
        );
        let r = r.unwrap();
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert!(r.metadata.authoritative);
        assert!(r.answers.is_empty());
    }

    #[test]
    fn unknown_names_forward_unless_local() {
        let local = LocalDomains::new(&["openstack.svc".into(), "Example.ORG.".into()]);
        for name in [
            "example.com.",
            "svc.",
            "xopenstack.svc.",
            "edpm-compute-1.internalapi.",
        ] {
            assert_eq!(
                ask(&query(name, RecordType::A, false), &local).0,
                Outcome::Forward,
                "{name}"
            );
        }
        for name in ["openstack.svc.", "a.b.OPENSTACK.svc.", "www.example.org."] {
            let (outcome, r) = ask(&query(name, RecordType::A, true), &local);
            assert_eq!(outcome, Outcome::Reply, "{name}");
            let r = r.unwrap();
            assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{name}");
            assert!(r.metadata.authoritative);
        }
        // A known name under a local domain is answered, not NXDOMAIN.
        let local = LocalDomains::new(&["internalapi".into()]);
        let (_, r) = ask(
            &query("edpm-compute-0.internalapi.", RecordType::A, false),
            &local,
        );
        assert_eq!(r.unwrap().answers.len(), 1);

        let unqualified = LocalDomains::new(&[String::new()]);
        assert_eq!(
            ask(&query("host.", RecordType::A, false), &unqualified)
                .1
                .unwrap()
                .metadata
                .response_code,
            ResponseCode::NXDomain
        );
        assert_eq!(
            ask(&query("host.example.", RecordType::A, false), &unqualified).0,
            Outcome::Forward
        );
    }

    #[test]
    fn malformed_and_unsupported_messages() {
        let local = LocalDomains::default();
        let mut out = Vec::new();
        // Too short, or a response: ignored.
        assert_eq!(
            respond(&[0; 11], &answers(), &local, false, &mut out),
            Outcome::Ignore
        );
        let mut resp = query("a.", RecordType::A, false);
        resp[2] |= 0x80;
        assert_eq!(
            respond(&resp, &answers(), &local, false, &mut out),
            Outcome::Ignore
        );

        // Truncated question → FORMERR with the query's id.
        let q = query("edpm-compute-0.internalapi.", RecordType::A, false);
        let (outcome, r) = ask(&q[..q.len() - 3], &local);
        assert_eq!(outcome, Outcome::Reply);
        let r = r.unwrap();
        assert_eq!(r.metadata.id, 0xBEEF);
        assert_eq!(r.metadata.response_code, ResponseCode::FormErr);

        // Two questions → FORMERR.
        let mut m = Message::query();
        m.add_query(HQuery::query(
            Name::from_ascii("a.").unwrap(),
            RecordType::A,
        ));
        m.add_query(HQuery::query(
            Name::from_ascii("b.").unwrap(),
            RecordType::A,
        ));
        assert_eq!(
            ask(&m.to_vec().unwrap(), &local)
                .1
                .unwrap()
                .metadata
                .response_code,
            ResponseCode::FormErr
        );

        // A compressed question name → FORMERR (not a crash, not a lookup).
        let mut q = query("x.", RecordType::A, false);
        q.truncate(12);
        q.extend_from_slice(&[0xC0, 0x0C, 0, 1, 0, 1]);
        assert_eq!(
            ask(&q, &local).1.unwrap().metadata.response_code,
            ResponseCode::FormErr
        );

        // Another opcode → NOTIMP.
        let mut m = Message::new(7, MessageType::Query, OpCode::Update);
        m.add_query(HQuery::query(
            Name::from_ascii("a.").unwrap(),
            RecordType::A,
        ));
        assert_eq!(
            ask(&m.to_vec().unwrap(), &local)
                .1
                .unwrap()
                .metadata
                .response_code,
            ResponseCode::NotImp
        );

        // EDNS version 1 → BADVERS (extended RCODE 16).
        let mut q = query("edpm-compute-0.internalapi.", RecordType::A, true);
        let opt_ttl = q.len() - 6; // OPT: ... ttl(4) rdlen(2)
        q[opt_ttl + 1] = 1;
        let mut out = Vec::new();
        respond(&q, &answers(), &local, false, &mut out);
        let r = Message::from_vec(&out).unwrap();
        // 16 is both BADVERS and BADSIG; hickory names it BADSIG.
        assert_eq!(u16::from(r.metadata.response_code), 16);
        assert!(r.answers.is_empty());
    }

    #[test]
    fn oversized_udp_answer_is_truncated_but_fits_tcp() {
        let hosts = (0..100)
            .map(|i| HostEntry {
                ip: format!("10.0.{}.{}", i / 250, i % 250 + 1).parse().unwrap(),
                hostnames: vec!["many.example".into()],
            })
            .collect();
        let answers = Answers::compile(&RecordSet::from_zones(&[Zone { hosts }]), 0);
        let local = LocalDomains::default();
        let q = query("many.example.", RecordType::A, false);
        let mut out = Vec::new();
        respond(&q, &answers, &local, false, &mut out);
        let r = Message::from_vec(&out).unwrap();
        assert!(r.metadata.truncation);
        assert!(r.answers.is_empty());
        assert!(out.len() <= 512);

        respond(&q, &answers, &local, true, &mut out);
        let r = Message::from_vec(&out).unwrap();
        assert!(!r.metadata.truncation);
        assert_eq!(r.answers.len(), 100);
    }

    #[test]
    fn servfail_keeps_question_and_edns() {
        let q = query("unknown.example.", RecordType::A, true);
        let parsed = parse(&q).expect("query parses");
        let mut out = Vec::new();
        write_error(&parsed, RCODE_SERVFAIL, false, &mut out);
        let r = Message::from_vec(&out).unwrap();
        assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
        assert!(!r.metadata.authoritative);
        assert_eq!(r.queries[0].name().to_ascii(), "unknown.example.");
        assert!(r.edns.is_some());
    }
}
