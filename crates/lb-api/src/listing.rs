//! Listing rules shared by every collection GET (design §2.4, octavia's
//! `api/common/pagination.py`): filters, sorting, pagination with links,
//! tags and `fields`. Pure: parsing a query into a [`ListQuery`], and
//! applying it to rendered objects; no I/O.

use std::cmp::Ordering;

use neutrino_lb_types::LbError;
use serde_json::Value;

/// Query keys that steer the listing rather than filter it.
const AUXILIARY: &[&str] = &[
    "limit",
    "marker",
    "sort",
    "sort_key",
    "sort_dir",
    "fields",
    "page_reverse",
];
const TAG_KEYS: &[&str] = &["tags", "tags-any", "not-tags", "not-tags-any"];
/// Appended to the caller's sort keys when the resource has them.
const DEFAULT_SORT_KEYS: &[&str] = &["created_at", "id"];

/// What a collection allows.
#[derive(Clone, Copy, Debug)]
pub struct Collection {
    /// API names that may be filtered and sorted on.
    pub attributes: &'static [&'static str],
    /// Attributes holding booleans: their filter values parse as oslo
    /// booleans.
    pub booleans: &'static [&'static str],
    /// Whether the objects carry `tags` (tag filters are ignored otherwise).
    pub tagged: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortDir {
    Asc,
    Desc,
}

/// The four tag filters, each a flat list of tags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagFilter {
    pub all: Vec<String>,
    pub any: Vec<String>,
    pub not_all: Vec<String>,
    pub not_any: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ListQuery {
    /// Attribute → accepted values (a repeated key matches any of them).
    pub filters: Vec<(String, Vec<String>)>,
    pub tags: TagFilter,
    /// `project_id`: a scope for policy (§4), not a filter.
    pub project_id: Option<String>,
    /// The caller's keys, then `created_at` and `id`.
    pub sort: Vec<(String, SortDir)>,
    /// `None`: unlimited.
    pub limit: Option<usize>,
    pub marker: Option<String>,
    pub page_reverse: bool,
    pub fields: Option<Vec<String>>,
    /// `sort` and `sort_key` as given, repeated in the links.
    raw_sort: Option<String>,
    raw_sort_key: Option<String>,
}

/// One page of a listing.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub items: Vec<Value>,
    /// `[{"rel": "previous"|"next", "href": ...}]`
    pub links: Vec<Value>,
}

fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn all<'a>(pairs: &'a [(String, String)], key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    pairs
        .iter()
        .filter(move |(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// `fields`: repeated keys, not split on commas (upstream's
/// `[wtypes.text]` argument; `fields=a,b` names one unknown field).
pub fn fields(pairs: &[(String, String)]) -> Option<Vec<String>> {
    let f: Vec<String> = all(pairs, "fields").map(str::to_string).collect();
    (!f.is_empty()).then_some(f)
}

/// Python's `str()` of a list of strings, which upstream puts into
/// `InvalidSortKey` for a key with two colons.
fn python_list(items: &[&str]) -> String {
    let inner: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", inner.join(", "))
}

fn sort_dir(s: &str) -> Result<SortDir, LbError> {
    match s.to_lowercase().as_str() {
        "asc" => Ok(SortDir::Asc),
        "desc" => Ok(SortDir::Desc),
        other => Err(LbError::invalid_sort_direction(other)),
    }
}

fn parse_limit(raw: Option<&str>, max: usize) -> Result<Option<usize>, LbError> {
    let Some(raw) = raw else {
        return Ok(Some(max));
    };
    if raw == "infinite" {
        return Ok(None);
    }
    let n: i64 = raw
        .trim()
        .parse()
        .map_err(|_| LbError::invalid_limit(raw))?;
    if n < 1 {
        return Ok(None);
    }
    Ok(Some(usize::try_from(n).unwrap_or(usize::MAX).min(max)))
}

fn parse_sort(pairs: &[(String, String)]) -> Result<Vec<(String, SortDir)>, LbError> {
    let mut out = Vec::new();
    if let Some(sort) = first(pairs, "sort").filter(|s| !s.is_empty()) {
        for item in sort.split(',') {
            let comps: Vec<&str> = item.split(':').collect();
            match comps.as_slice() {
                [key] => out.push((key.to_string(), SortDir::Asc)),
                [key, dir] => out.push((key.to_string(), sort_dir(dir)?)),
                _ => return Err(LbError::invalid_sort_key(&python_list(&comps))),
            }
        }
    } else if let Some(keys) = first(pairs, "sort_key").filter(|s| !s.is_empty()) {
        let dirs: Vec<&str> = first(pairs, "sort_dir")
            .filter(|s| !s.is_empty())
            .map(|d| d.split(',').collect())
            .unwrap_or_default();
        for (i, key) in keys.split(',').enumerate() {
            let dir = match dirs.get(i) {
                Some(d) => sort_dir(d)?,
                None => SortDir::Asc,
            };
            out.push((key.to_string(), dir));
        }
    }
    Ok(out)
}

fn split_tags<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    values
        .flat_map(|v| v.split(','))
        .map(str::to_string)
        .collect()
}

/// oslo's `bool_from_string` in strict mode; `None` for anything else.
pub fn oslo_bool(s: &str) -> Option<bool> {
    match s.trim().to_lowercase().as_str() {
        "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
        _ => None,
    }
}

impl ListQuery {
    /// Parses a collection GET's query (as decoded pairs, in order).
    pub fn parse(
        pairs: &[(String, String)],
        collection: &Collection,
        max_limit: usize,
    ) -> Result<ListQuery, LbError> {
        let limit = parse_limit(first(pairs, "limit"), max_limit)?;
        let mut sort = parse_sort(pairs)?;
        for (key, _) in &sort {
            if !collection.attributes.contains(&key.as_str()) {
                return Err(LbError::invalid_sort_key(key));
            }
        }
        for key in DEFAULT_SORT_KEYS {
            if collection.attributes.contains(key) && !sort.iter().any(|(k, _)| k == key) {
                sort.push((key.to_string(), SortDir::Asc));
            }
        }
        let mut filters: Vec<(String, Vec<String>)> = Vec::new();
        for (key, value) in pairs {
            let key = key.as_str();
            if AUXILIARY.contains(&key) || TAG_KEYS.contains(&key) || key == "project_id" {
                continue;
            }
            if !collection.attributes.contains(&key) {
                return Err(LbError::invalid_filter_argument());
            }
            if collection.booleans.contains(&key) && oslo_bool(value).is_none() {
                return Err(LbError::invalid_filter_argument());
            }
            match filters.iter_mut().find(|(k, _)| k == key) {
                Some((_, values)) => values.push(value.clone()),
                None => filters.push((key.to_string(), vec![value.clone()])),
            }
        }
        let tags = if collection.tagged {
            TagFilter {
                all: split_tags(all(pairs, "tags")),
                any: split_tags(all(pairs, "tags-any")),
                not_all: split_tags(all(pairs, "not-tags")),
                not_any: split_tags(all(pairs, "not-tags-any")),
            }
        } else {
            TagFilter::default()
        };
        Ok(ListQuery {
            filters,
            tags,
            project_id: first(pairs, "project_id").map(str::to_string),
            sort,
            limit,
            marker: first(pairs, "marker").map(str::to_string),
            page_reverse: first(pairs, "page_reverse") == Some("True"),
            fields: fields(pairs),
            raw_sort: first(pairs, "sort").map(str::to_string),
            raw_sort_key: first(pairs, "sort_key").map(str::to_string),
        })
    }

    /// Whether a rendered object passes the filters and tag filters.
    pub fn matches(&self, obj: &Value) -> bool {
        let filters_pass = self.filters.iter().all(|(key, wanted)| {
            let have = obj.get(key).unwrap_or(&Value::Null);
            wanted.iter().any(|w| value_equals(have, w))
        });
        filters_pass && self.tags_match(obj)
    }

    fn tags_match(&self, obj: &Value) -> bool {
        let tags: Vec<&str> = obj
            .get("tags")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let has = |t: &String| tags.contains(&t.as_str());
        let t = &self.tags;
        t.all.iter().all(has)
            && (t.any.is_empty() || t.any.iter().any(has))
            && (t.not_all.is_empty() || !t.not_all.iter().all(has))
            && !t.not_any.iter().any(has)
    }

    /// Orders rendered objects by the sort keys.
    pub fn sort(&self, items: &mut [Value]) {
        items.sort_by(|a, b| self.compare(a, b));
    }

    fn compare(&self, a: &Value, b: &Value) -> Ordering {
        for (key, dir) in &self.sort {
            let o = compare_values(
                a.get(key).unwrap_or(&Value::Null),
                b.get(key).unwrap_or(&Value::Null),
            );
            let o = if *dir == SortDir::Desc {
                o.reverse()
            } else {
                o
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }

    /// Filters, sorts and cuts one page out of every visible object.
    /// `path_url` is the collection's URL without query, for the links.
    pub fn page(&self, mut items: Vec<Value>, path_url: &str) -> Result<Page, LbError> {
        items.retain(|o| self.matches(o));
        self.sort(&mut items);
        let window: Vec<Value> = match &self.marker {
            None => items,
            Some(marker) => {
                let at = items
                    .iter()
                    .position(|o| o.get("id").and_then(Value::as_str) == Some(marker))
                    .ok_or_else(|| LbError::invalid_marker(marker))?;
                if self.page_reverse {
                    // The page just before the marker, still in sort order.
                    let before: Vec<Value> = items.into_iter().take(at).collect();
                    let skip = self.limit.map_or(0, |l| before.len().saturating_sub(l));
                    before.into_iter().skip(skip).collect()
                } else {
                    items.into_iter().skip(at + 1).collect()
                }
            }
        };
        let page: Vec<Value> = match self.limit {
            Some(l) => window.into_iter().take(l).collect(),
            None => window,
        };
        let links = self.links(&page, path_url);
        let items = page.into_iter().map(|o| self.select(o)).collect();
        Ok(Page { items, links })
    }

    fn links(&self, page: &[Value], path_url: &str) -> Vec<Value> {
        let (Some(first), Some(last)) = (page.first(), page.last()) else {
            return Vec::new();
        };
        let id = |o: &Value| {
            o.get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let mut common = Vec::new();
        if let Some(l) = self.limit {
            common.push(format!("limit={l}"));
        }
        if let Some(s) = &self.raw_sort {
            common.push(format!("sort={s}"));
        }
        if let Some(s) = &self.raw_sort_key {
            common.push(format!("sort_key={s}"));
        }
        let href = |extra: Vec<String>| {
            let mut parts = common.clone();
            parts.extend(extra);
            format!("{path_url}?{}", parts.join("&"))
        };
        let mut links = Vec::new();
        if self.marker.is_some() {
            links.push(serde_json::json!({
                "rel": "previous",
                "href": href(vec![format!("marker={}", id(first)), "page_reverse=True".into()]),
            }));
        }
        if self.limit.is_some_and(|l| page.len() >= l) {
            links.push(serde_json::json!({
                "rel": "next",
                "href": href(vec![format!("marker={}", id(last))]),
            }));
        }
        links
    }

    /// Applies `fields` to one rendered object.
    pub fn select(&self, obj: Value) -> Value {
        select_fields(obj, self.fields.as_deref())
    }
}

/// Keeps only the named attributes (unknown names are ignored, so an
/// object may end up empty, as upstream's).
pub fn select_fields(obj: Value, fields: Option<&[String]>) -> Value {
    match (obj, fields) {
        (Value::Object(map), Some(fields)) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| fields.iter().any(|f| f == k))
                .collect(),
        ),
        (obj, _) => obj,
    }
}

/// The collection body: `{plural: [...], links_key: [...]}`.
pub fn body(plural: &str, links_key: &str, page: Page) -> Value {
    let mut map = serde_json::Map::new();
    map.insert(plural.to_string(), Value::Array(page.items));
    map.insert(links_key.to_string(), Value::Array(page.links));
    Value::Object(map)
}

/// Filter equality between a rendered value and a query string. SQL's
/// `= NULL` never holds, so neither does a filter on a null attribute.
fn value_equals(have: &Value, wanted: &str) -> bool {
    match have {
        Value::String(s) => s == wanted,
        Value::Bool(b) => oslo_bool(wanted) == Some(*b),
        Value::Number(n) => match (n.as_i64(), wanted.trim().parse::<i64>()) {
            (Some(a), Ok(b)) => a == b,
            _ => n
                .as_f64()
                .zip(wanted.trim().parse::<f64>().ok())
                .is_some_and(|(a, b)| a == b),
        },
        _ => false,
    }
}

/// Nulls first (upstream compares NULL as its column's empty default).
fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (x, y) => x.to_string().cmp(&y.to_string()),
    }
}

#[cfg(test)]
mod tests;
