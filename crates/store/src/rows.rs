//! Small helpers shared by the query modules.

pub(crate) fn json_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("serialising plain data cannot fail")
}

/// Builds `$from, $from+1, ...` for an `IN (...)` list.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `a, b, c` as `t.a, t.b, t.c`: a constant column list for a query that
/// joins other tables.
pub(crate) fn qualified(columns: &str, table: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("{table}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Marks SQL we assembled ourselves from constant column lists and `$N`
/// placeholders (never from request data) as safe for sqlx.
pub(crate) fn trusted(sql: &str) -> sqlx::AssertSqlSafe<&str> {
    sqlx::AssertSqlSafe(sql)
}
