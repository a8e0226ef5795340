-- OpenID Connect Core §10.1: an HS512 ID token is signed with the client secret's octets, which
-- is what relying-party libraries verify with. An HS512 application's secrets are therefore
-- kept sealed (ChaCha20-Poly1305 under the server's secret key, bound to the tenant and client) beside
-- their SHA-256; every other application's secrets stay hash-only (NULL here).
-- Keep in step with migrations/postgres/0016_hs512_client_secrets.sql.

ALTER TABLE oidc_client_secrets ADD COLUMN secret_sealed TEXT;
