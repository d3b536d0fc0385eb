//! Where the server is: `unix:PATH` or `tcp:HOST:PORT`, or a comma-separated list of those.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::Error;

/// One address of an OVSDB server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Remote {
    /// `unix:PATH`
    Unix(PathBuf),
    /// `tcp:HOST:PORT` (an IPv6 host is written in brackets: `tcp:[::1]:6641`).
    Tcp { host: String, port: u16 },
}

impl fmt::Display for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Remote::Unix(path) => write!(f, "unix:{}", path.display()),
            Remote::Tcp { host, port } if host.contains(':') => write!(f, "tcp:[{host}]:{port}"),
            Remote::Tcp { host, port } => write!(f, "tcp:{host}:{port}"),
        }
    }
}

impl FromStr for Remote {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::InvalidEndpoint(s.to_string());
        let s = s.trim();
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(bad());
            }
            return Ok(Remote::Unix(PathBuf::from(path)));
        }
        let Some(rest) = s.strip_prefix("tcp:") else {
            return Err(bad());
        };
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, port) = v6.split_once("]:").ok_or_else(bad)?;
            (host, port)
        } else {
            rest.rsplit_once(':').ok_or_else(bad)?
        };
        let port: u16 = port.parse().map_err(|_| bad())?;
        if host.is_empty() || port == 0 {
            return Err(bad());
        }
        Ok(Remote::Tcp {
            host: host.to_string(),
            port,
        })
    }
}

/// The servers to try, in order: the `--db` syntax of `ovn-nbctl`, e.g.
/// `unix:/run/ovn/ovnnb_db.sock` or `tcp:10.0.0.1:6641,tcp:10.0.0.2:6641,tcp:10.0.0.3:6641`
/// (the members of a clustered database).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    remotes: Vec<Remote>,
}

impl Endpoint {
    /// An endpoint of one or more remotes; errors if `remotes` is empty.
    pub fn new(remotes: Vec<Remote>) -> Result<Self, Error> {
        if remotes.is_empty() {
            return Err(Error::InvalidEndpoint(String::new()));
        }
        Ok(Self { remotes })
    }

    /// `unix:PATH`.
    pub fn unix(path: impl Into<PathBuf>) -> Self {
        Self {
            remotes: vec![Remote::Unix(path.into())],
        }
    }

    /// `tcp:HOST:PORT`.
    pub fn tcp(host: impl Into<String>, port: u16) -> Self {
        Self {
            remotes: vec![Remote::Tcp {
                host: host.into(),
                port,
            }],
        }
    }

    /// The remotes, in the order they are tried.
    pub fn remotes(&self) -> &[Remote] {
        &self.remotes
    }

    /// This endpoint followed by the remotes of `other`.
    pub fn or(mut self, other: Endpoint) -> Self {
        self.remotes.extend(other.remotes);
        self
    }
}

impl From<Remote> for Endpoint {
    fn from(remote: Remote) -> Self {
        Self {
            remotes: vec![remote],
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, remote) in self.remotes.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{remote}")?;
        }
        Ok(())
    }
}

impl FromStr for Endpoint {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let remotes = s
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(Remote::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        if remotes.is_empty() {
            return Err(Error::InvalidEndpoint(s.to_string()));
        }
        Ok(Self { remotes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_the_nbctl_syntax() {
        for s in [
            "unix:/run/ovn/ovnnb_db.sock",
            "tcp:127.0.0.1:6641",
            "tcp:[::1]:6641",
            "tcp:10.0.0.1:6641,tcp:10.0.0.2:6641,unix:/tmp/x.sock",
            "tcp:ovn-nb.example.org:6641",
        ] {
            let ep: Endpoint = s.parse().unwrap();
            assert_eq!(ep.to_string(), s);
        }
        let ep: Endpoint = " tcp:10.0.0.1:6641 , unix:/a ".parse().unwrap();
        assert_eq!(
            ep.remotes(),
            &[
                Remote::Tcp {
                    host: "10.0.0.1".into(),
                    port: 6641
                },
                Remote::Unix("/a".into())
            ]
        );
    }

    #[test]
    fn rejects_what_it_cannot_connect_to() {
        for s in [
            "",
            ",",
            "unix:",
            "tcp:1.2.3.4",
            "tcp::6641",
            "tcp:1.2.3.4:x",
            "tcp:1.2.3.4:0",
            "ssl:1.2.3.4:6641",
            "/run/ovn.sock",
            "tcp:[::1:6641",
        ] {
            assert!(s.parse::<Endpoint>().is_err(), "{s:?} should be rejected");
        }
    }
}
