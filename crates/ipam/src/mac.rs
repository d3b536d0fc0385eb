//! MAC addresses for ports.

use std::fmt;
use std::str::FromStr;

use crate::IpamError;

/// Neutron's default `base_mac` prefix (`fa:16:3e:00:00:00`).
pub const DEFAULT_MAC_PREFIX: [u8; 3] = [0xfa, 0x16, 0x3e];

/// A MAC address. Parsing rejects addresses no port can use; construction
/// from bytes does not, so generated MACs are only as valid as their prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mac([u8; 6]);

impl Mac {
    pub const fn from_bytes(bytes: [u8; 6]) -> Self {
        Mac(bytes)
    }

    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// Random MAC under an operator-chosen OUI, so an operator can tell
    /// Neutron-made ports apart and avoid clashes between deployments.
    pub fn random_with_prefix(prefix: [u8; 3], rng: &mut impl rand::Rng) -> Self {
        let tail: [u8; 3] = rng.random();
        Mac([prefix[0], prefix[1], prefix[2], tail[0], tail[1], tail[2]])
    }

    /// Random MAC under [`DEFAULT_MAC_PREFIX`].
    pub fn random(rng: &mut impl rand::Rng) -> Self {
        Self::random_with_prefix(DEFAULT_MAC_PREFIX, rng)
    }

    /// Group addresses (including broadcast) cannot identify one port.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }

    fn is_usable(&self) -> bool {
        self.0 != [0; 6] && !self.is_multicast()
    }
}

/// Splits the notations netaddr's `valid_mac` accepts: `aa:bb:..`,
/// `aa-bb-..`, Cisco `aabb.ccdd.eeff` and bare `aabbccddeeff`.
fn parse_bytes(s: &str) -> Option<[u8; 6]> {
    let groups: Vec<&str> = if s.contains(':') {
        s.split(':').collect()
    } else if s.contains('-') {
        s.split('-').collect()
    } else if s.contains('.') {
        s.split('.').collect()
    } else {
        vec![s]
    };
    let width = 12 / groups.len();
    if !matches!(groups.len(), 1 | 3 | 6) || groups.iter().any(|g| g.len() != width) {
        return None;
    }
    let hex: String = groups.concat();
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 6];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

impl FromStr for Mac {
    type Err = IpamError;

    /// Neutron rejects the all-zero and broadcast MACs; multicast MACs are
    /// rejected too because no NIC can own one.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_bytes(s)
            .map(Mac)
            .filter(Mac::is_usable)
            .ok_or_else(|| IpamError::InvalidMac(format!("'{s}' is not a valid MAC address")))
    }
}

/// Lower-case colon form, the only form Neutron returns.
impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}
