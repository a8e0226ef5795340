-- A counter every change to the certificates being served increments (issue, renewal,
-- release), so a server on SQLite sees changes made by another process (the command line) at
-- once: it polls this one row every second. PostgreSQL nodes hear NOTIFY as well.
-- Keep in step with migrations/sqlite/0015_certificate_generation.sql.

CREATE TABLE certificate_generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT  NOT NULL
);
INSERT INTO certificate_generation (id, value) VALUES (1, 0);
