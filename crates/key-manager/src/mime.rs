//! Barbican's payload content types (`plugin/util/mime_types.py`) and
//! the translations around storage (`plugin/util/translations.py`).

/// The plain-text spellings upstream accepts, exactly.
pub const PLAIN_TEXT: [&str; 3] = [
    "text/plain",
    "text/plain;charset=utf-8",
    "text/plain; charset=utf-8",
];
pub const BINARY: [&str; 2] = ["application/octet-stream", "application/pkcs8"];

/// `SUPPORTED` as upstream prints it in messages.
pub const SUPPORTED_TEXT: &str = "['text/plain', 'text/plain;charset=utf-8', \
     'text/plain; charset=utf-8', 'application/octet-stream', 'application/pkcs8']";

fn internal(mime: &str) -> Option<&'static str> {
    Some(match mime {
        "text/plain" | "text/plain;charset=utf-8" | "text/plain; charset=utf-8" => "text/plain",
        "application/octet-stream" => "application/octet-stream",
        "application/pkcs8" => "application/pkcs8",
        "application/aes" => "application/aes",
        _ => return None,
    })
}

/// `normalize_content_type`: the internal form of a supported type (a
/// charset other than utf-8, or a malformed one, leaves it as given).
pub fn normalize(mime_type: &str) -> String {
    let parts: Vec<&str> = mime_type.split(';').map(str::trim).collect();
    let mime = parts[0].to_lowercase();
    if parts.len() > 1 {
        let charset = parts[1].to_lowercase();
        if !charset.contains('=') {
            return mime_type.to_string();
        }
        let value = charset
            .split('=')
            .nth(1)
            .unwrap_or_default()
            .trim()
            .to_string();
        if value != "utf-8" {
            return mime_type.to_string();
        }
    }
    internal(&mime).map_or_else(|| mime_type.to_string(), str::to_string)
}

pub fn is_supported(mime_type: &str) -> bool {
    let n = normalize(mime_type);
    PLAIN_TEXT.contains(&n.as_str()) || BINARY.contains(&n.as_str())
}

/// The transfer encodings a (supported) type may be sent with; `None`:
/// none at all (text).
pub fn encodings(mime_type: &str) -> Option<&'static [&'static str]> {
    match internal(&normalize(mime_type))? {
        "application/octet-stream" | "application/pkcs8" => Some(&["base64", "binary"]),
        _ => None,
    }
}

/// How upstream prints `get_supported_encodings`.
pub fn encodings_text(mime_type: &str) -> String {
    match encodings(mime_type) {
        None => "None".into(),
        Some(e) => format!(
            "[{}]",
            e.iter()
                .map(|x| format!("'{x}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `is_content_type_with_encoding_supported`.
pub fn encoding_allowed(mime_type: &str, encoding: Option<&str>) -> bool {
    if !is_supported(mime_type) {
        return false;
    }
    match (encodings(mime_type), encoding) {
        (Some(allowed), Some(e)) => allowed.contains(&e),
        (Some(_), None) => false,
        (None, e) => e.is_none(),
    }
}

/// Python's lenient `base64.b64decode`: characters outside the alphabet
/// are dropped, then the rest must be whole, padded quads.
pub fn b64decode_lenient(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let kept: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        .collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireCanonical),
    );
    engine.decode(kept).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation() {
        assert_eq!(normalize("text/plain; charset=utf-8"), "text/plain");
        assert_eq!(normalize("TEXT/PLAIN"), "text/plain");
        assert_eq!(
            normalize("text/plain; charset=latin1"),
            "text/plain; charset=latin1"
        );
        assert_eq!(normalize("application/json"), "application/json");
        assert!(is_supported("text/plain;charset=UTF-8"));
        assert!(!is_supported("text/plain; charset=latin1"));
        assert!(!is_supported("application/json"));
        assert!(encoding_allowed("text/plain", None));
        assert!(!encoding_allowed("text/plain", Some("base64")));
        assert!(encoding_allowed("application/octet-stream", Some("base64")));
        assert!(!encoding_allowed("application/octet-stream", None));
        assert_eq!(encodings_text("application/pkcs8"), "['base64', 'binary']");
        assert_eq!(encodings_text("text/plain"), "None");
    }

    #[test]
    fn lenient_base64() {
        assert_eq!(b64decode_lenient("aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(b64decode_lenient("aGVs\nbG8="), Some(b"hello".to_vec()));
        assert_eq!(b64decode_lenient("aGVsbG8"), None);
        assert_eq!(b64decode_lenient("!!"), Some(Vec::new()));
    }
}
