-- A counter bumped by every transaction that can change what validating a
-- token yields (revocations, users, projects, domains, roles, assignments).
-- Each server remembers the value its cached validations were made at and
-- reads it once per request, so a change committed through any server is
-- seen by all of them at their next request (crates/identity/src/cache.rs).
CREATE TABLE identity_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO identity_epoch (id, value) VALUES (1, 0);
