-- The infra network layer (network.openstack.org/v1beta1): NetConfig, IPSet,
-- Reservation, DNSMasq and DNSData objects, and the index of reserved
-- addresses that makes a duplicate reservation impossible. Kept textually
-- identical to the PostgreSQL migration of the same number.

-- A namespace belongs to the project that first wrote into it; members of
-- other projects cannot see or change it (admins can).
CREATE TABLE infra_namespaces (
    name TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Every object, whatever its kind: metadata in columns, spec and status as
-- JSON text exactly as the API renders them.
CREATE TABLE infra_objects (
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL REFERENCES infra_namespaces (name),
    name TEXT NOT NULL,
    uid TEXT NOT NULL UNIQUE,
    generation BIGINT NOT NULL,
    resource_version BIGINT NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}',
    annotations TEXT NOT NULL DEFAULT '{}',
    owner_references TEXT NOT NULL DEFAULT '[]',
    spec TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);
-- At most one NetConfig per namespace, even when two are created at once.
CREATE UNIQUE INDEX infra_objects_one_netconfig ON infra_objects (namespace) WHERE kind = 'NetConfig';

-- One row per reserved address. `network` is the NetConfig network name in
-- lower case (names match case-insensitively), `reservation` the name of the
-- Reservation (= its IPSet). The primary key makes an address impossible to
-- reserve twice on one network of a namespace, whichever server allocates
-- it; the second index gives a reservation one address per network.
CREATE TABLE infra_ip_reservations (
    namespace TEXT NOT NULL,
    network TEXT NOT NULL,
    address TEXT NOT NULL,
    reservation TEXT NOT NULL,
    subnet TEXT NOT NULL,
    PRIMARY KEY (namespace, network, address)
);
CREATE UNIQUE INDEX infra_ip_reservations_owner ON infra_ip_reservations (namespace, reservation, network);
